/** The undo bar under the header: "Deleted …" with Undo, for a while after a delete. */
import { button, h } from '../dom';
import { SidebarContext } from './context';
import { Part } from './section';

const UNDO_VISIBLE_MS = 15000;

export class UndoBar extends Part<HTMLDivElement> {
  constructor(ctx: SidebarContext) {
    super(ctx, h('div', { className: 'ns-undo', attrs: { role: 'alert' } }));
    this.node.hidden = true;
    this.node.append(
      this.text,
      button('Undo', 'ns-undo-button', 'Undo the delete', () => void this.run())
    );
  }

  /** Offer `action` under `message` until it is used or the time is up. */
  offer(message: string, action: () => Promise<void>): void {
    window.clearTimeout(this.timer);
    this.text.textContent = message;
    this.action = action;
    this.node.hidden = false;
    this.timer = window.setTimeout(() => this.reset(), UNDO_VISIBLE_MS);
  }

  reset(): void {
    window.clearTimeout(this.timer);
    this.node.hidden = true;
    this.action = null;
  }

  dispose(): void {
    window.clearTimeout(this.timer);
    super.dispose();
  }

  private async run(): Promise<void> {
    const action = this.action;
    this.reset();
    if (action) {
      try {
        await action();
        this.ctx.clearMessage();
      } catch (error) {
        this.ctx.report(error);
      }
    }
  }

  private readonly text = h('span', { className: 'ns-undo-text' });
  private action: (() => Promise<void>) | null = null;
  private timer = 0;
}
