/**
 * The change feed: a websocket that replays the change sets after `since` and
 * then sends each new one. It reconnects with `since=<last seq>` when it closes,
 * also when the server dropped it for falling behind (FEED_BEHIND).
 */
import { decode, IChangeSet, NodeSpaceApi } from '../api';

/** Close code of the feed when the current knowledge base changed (jupyter/handlers.py). */
export const FEED_SWITCHED = 4001;
/**
 * Close code of the feed when this client fell behind (service/backlog.py): resuming
 * from the last seq seen replays what it missed, like any other reconnection.
 */
export const FEED_BEHIND = 4002;

export class ChangeFeed {
  constructor(
    private readonly api: NodeSpaceApi,
    private readonly onChange: (change: IChangeSet) => void,
    private readonly onState: (connected: boolean) => void,
    private readonly onSwitched: () => void
  ) {}

  /** Newest sequence number seen (start point of a reconnection). */
  get seq(): number {
    return this._seq;
  }

  get connected(): boolean {
    return this._connected;
  }

  /** Open the feed of knowledge base `kb` from `since`; an open feed is closed first. */
  start(since: number, kb: string): void {
    this._seq = since;
    this.kb = kb;
    this._stopped = false;
    this.close();
    this.connect();
  }

  /** Close for good (no reconnection). */
  stop(): void {
    this._stopped = true;
    this.close();
  }

  private connect(): void {
    if (this._stopped) {
      return;
    }
    const WebSocketClass = this.api.settings.WebSocket;
    const socket = new WebSocketClass(this.api.feedUrl(this._seq, this.kb));
    this.socket = socket;
    socket.onopen = () => {
      this.retryMs = 250;
      this.setConnected(true);
    };
    socket.onmessage = event => this.onMessage(event);
    socket.onclose = event => this.onClose(socket, event);
  }

  /** A change set newer than the last one seen goes on (a replay may repeat some). */
  private onMessage(event: MessageEvent): void {
    let message: unknown;
    try {
      message = JSON.parse(String(event.data));
    } catch {
      return;
    }
    const record = message as Record<string, unknown>;
    if (record && record['$type'] === 'changeset') {
      const change = decode(record) as IChangeSet;
      if (change.seq > this._seq) {
        this._seq = change.seq;
        this.onChange(change);
      }
    }
  }

  private onClose(socket: WebSocket, event: CloseEvent): void {
    if (this.socket !== socket) {
      return; // an old socket, replaced already
    }
    this.socket = null;
    this.setConnected(false);
    if (event.code === FEED_SWITCHED) {
      this._stopped = true; // its sequence numbers mean nothing in another knowledge base
      this.onSwitched();
    } else if (!this._stopped) {
      // FEED_BEHIND and network drops alike: back off a little, then resume.
      this.timer = window.setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 2000);
    }
  }

  private close(): void {
    window.clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.onmessage = null;
      socket.close();
      this.setConnected(false);
    }
  }

  private setConnected(connected: boolean): void {
    if (connected !== this._connected) {
      this._connected = connected;
      this.onState(connected);
    }
  }

  private socket: WebSocket | null = null;
  private kb = '';
  private timer = 0;
  private retryMs = 250;
  private _seq = 0;
  private _connected = false;
  private _stopped = true;
}
