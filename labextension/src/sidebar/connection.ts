/**
 * The connection to the knowledge base: the status of the server, the first load,
 * the change feed (resumed from the last seq), switching to another knowledge base,
 * and retrying while the service starts or restarts.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { errorText, IChangeSet, isRestarting, IStatus, NodeSpaceApi } from '../api';
import { UpdateBus } from './bus';
import { ChangeFeed } from './feed';
import { Mode, StatusLine } from './status';

const WAITING = 'The NodeSpace service is starting or restarting';

const UNCONFIGURED =
  'No knowledge base: choose one in Settings › NodeSpace › Knowledge base, or start ' +
  'JupyterLab with NODESPACE_KB=<folder> (`make lab` does).';

function waitingText(restarts: number): string {
  const again = restarts > 0 ? ` (restarted ${restarts}×)` : '';
  return `${WAITING}${again}…`;
}

/** What the connection asks of the sidebar it serves. */
export interface IConnectionHost {
  /** Every change set of the feed, as it arrives. */
  onChange(change: IChangeSet): void;
  /** The mode changed (the sidebar hides its body while unconfigured). */
  onMode(mode: Mode): void;
  /** The knowledge base changed: forget everything shown. */
  onReset(): void;
}

export class Connection {
  constructor(
    private readonly api: NodeSpaceApi,
    private readonly bus: UpdateBus,
    private readonly status: StatusLine,
    private readonly host: IConnectionHost
  ) {
    this.feed = new ChangeFeed(
      api,
      change => host.onChange(change),
      connected => this.onFeedState(connected),
      () => this.reload()
    );
    status.live = () => this.feed.connected;
  }

  /** Another knowledge base became current (chosen here or in another tab): its path or null. */
  get kbChanged(): ISignal<this, string | null> {
    return this._kbChanged;
  }

  /**
   * Runs before switching to another knowledge base (the plugin saves the node
   * editors' unsaved changes); a rejection stops the switch.
   */
  beforeSwitch: (() => Promise<void>) | null = null;

  /** Connect; a newer attempt (after a switch) wins over one still under way. */
  async connect(): Promise<void> {
    window.clearTimeout(this.retryTimer);
    const attempt = ++this.attempt;
    let status: IStatus;
    try {
      status = await this.api.status();
    } catch (error) {
      if (attempt === this.attempt) {
        this.setMode('error', `Cannot reach the Jupyter server: ${errorText(error)}`);
        this.retryLater(3000);
      }
      return;
    }
    if (attempt === this.attempt) {
      await this.open(status, attempt);
    }
  }

  /** Ask the server for the knowledge base at `path` ("" is JupyterLab's own) and reload. */
  async switchTo(path: string): Promise<void> {
    const token = ++this.switchToken;
    const shown = path || 'the one JupyterLab started with';
    this.status.show(`Opening knowledge base ${shown}…`);
    try {
      await this.beforeSwitch?.();
      const status = await this.api.select(path);
      if (token !== this.switchToken) {
        return;
      }
      if (status.kb !== this.status.kbPath || this.status.mode !== 'ready') {
        this.reload();
      } else {
        this.status.clear();
      }
    } catch (error) {
      if (token === this.switchToken) {
        this.status.show(`Knowledge base not changed: ${errorText(error)}`);
      }
    }
  }

  stop(): void {
    this.feed.stop();
    window.clearTimeout(this.retryTimer);
  }

  /** The server answered `status`: load the knowledge base and follow its feed. */
  private async open(status: IStatus, attempt: number): Promise<void> {
    if (status.kb === null) {
      this.setMode('unconfigured', UNCONFIGURED);
      return;
    }
    const kb = status.kb;
    this.status.kbPath = kb;
    this.status.startedWith = status.started_with;
    if (!status.running) {
      this.setMode('waiting', waitingText(status.restarts));
      this.retryLater(1000);
      return;
    }
    try {
      const info = await this.api.info();
      this.bus.pending.all = true;
      await this.bus.flush(true);
      if (attempt !== this.attempt) {
        return;
      }
      this.feed.start(info.seq, kb); // resumes right after what the first load showed
      this.setMode('ready');
    } catch (error) {
      if (attempt !== this.attempt) {
        return;
      } else if (isRestarting(error)) {
        this.setMode('waiting', waitingText(status.restarts));
        this.retryLater(1000);
      } else {
        this.setMode('error', errorText(error));
        this.retryLater(5000);
      }
    }
  }

  /** The knowledge base changed: forget what was shown and connect to the new one. */
  private reload(): void {
    this.feed.stop();
    this.host.onReset();
    this.status.kbPath = '';
    this.setMode('connecting', 'Opening the knowledge base…');
    void this.connect().then(() => this._kbChanged.emit(this.status.kbPath || null));
  }

  /** The feed dropped: say so, and whether the service is restarting; clear that on return. */
  private onFeedState(connected: boolean): void {
    if (connected && this.status.message.startsWith(WAITING)) {
      this.status.message = '';
    }
    this.status.render();
    if (!connected && this.status.mode === 'ready') {
      void this.api
        .status()
        .then(status => {
          if (status && !status.running && !this.feed.connected) {
            this.status.show(waitingText(status.restarts));
          }
        })
        .catch(() => undefined);
    }
  }

  private retryLater(ms: number): void {
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => void this.connect(), ms);
  }

  private setMode(mode: Mode, message = ''): void {
    this.status.mode = mode;
    this.status.message = message;
    this.host.onMode(mode);
    this.status.render();
  }

  private readonly feed: ChangeFeed;
  private readonly _kbChanged = new Signal<this, string | null>(this);
  private attempt = 0;
  private switchToken = 0;
  private retryTimer = 0;
}
