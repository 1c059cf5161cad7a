/** The status line in the header: the knowledge base, whether the feed is live, a message. */
import { h } from '../dom';
import { IMessages } from './context';

export type Mode = 'connecting' | 'unconfigured' | 'waiting' | 'ready' | 'error';

export class StatusLine implements IMessages {
  constructor() {
    this.node.setAttribute('role', 'status');
    this.node.setAttribute('aria-live', 'polite');
  }

  readonly node = h('div', { className: 'ns-status' });

  mode: Mode = 'connecting';
  message = '';
  /** The path of the knowledge base shown ('' before the server answered). */
  kbPath = '';
  startedWith: string | null = null;
  /** Whether the change feed is connected (set by the connection). */
  live: () => boolean = () => false;

  show(message: string): void {
    this.message = message;
    this.render();
  }

  /** Clear the message of the last action (a message outside 'ready' says why it is not). */
  clear(): void {
    if (this.message && this.mode === 'ready') {
      this.show('');
    }
  }

  render(): void {
    const line = this.node;
    line.replaceChildren();
    line.classList.toggle('ns-error', this.mode === 'error');
    if (this.mode !== 'ready') {
      line.textContent = this.message || 'Connecting…';
      return;
    }
    line.append(this.kbName(), this.liveMark());
    if (this.message) {
      line.appendChild(h('span', { className: 'ns-note', text: this.message }));
    }
  }

  private kbName(): HTMLElement {
    const path = this.kbPath;
    const name = path.split(/[\\/]/).filter(Boolean).pop() ?? path;
    return h('span', {
      className: 'ns-kb-name',
      text: name,
      title:
        path === this.startedWith
          ? `${path} (set by NODESPACE_KB when JupyterLab started)`
          : `${path} (chosen in Settings › NodeSpace)`
    });
  }

  private liveMark(): HTMLElement {
    const live = this.live();
    return h('span', {
      className: `ns-live ${live ? 'ns-live-on' : 'ns-live-off'}`,
      text: live ? '● live' : '○ reconnecting…',
      title: live
        ? 'Changes made anywhere (notebooks, the CLI) appear here.'
        : 'The change feed is reconnecting; missed changes follow.'
    });
  }
}
