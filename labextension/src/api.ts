/**
 * The knowledge-base API as the Jupyter server extension serves it under
 * `<baseUrl>nodespace/api/v1/`, behind Jupyter's own authentication:
 * `ServerConnection.makeRequest` adds the token and the XSRF header.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { CallOperation } from './operations';

/** A node, as `{"$type": "node"}` values carry it (dates as ISO strings). */
export interface INode {
  id: string;
  kind: string;
  title: string;
  content: string;
  status: string;
  parent_id: string | null;
  position: string;
  task_status: string | null;
  priority: number | null;
  due: string | null;
  version: number;
  [field: string]: unknown;
}

/** One search result: plain-text snippet with (start, end) highlights in code points. */
export interface IHit {
  id: string;
  kind: string;
  title: string;
  score: number;
  snippet: string;
  highlights: [number, number][];
}

/** One operation of a change set; node operations carry row images. */
export interface IOp {
  op: string;
  id: string;
  kind: string;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  target?: string | null;
}

/** One committed write, as the change feed sends it. */
export interface IChangeSet {
  seq: number;
  label: string;
  ops: IOp[];
  undoes?: number | null;
}

/** What `GET status` (and `POST select`) answer. */
export interface IStatus {
  /** The current knowledge base (resolved path), or null when none is chosen. */
  kb: string | null;
  running: boolean;
  restarts: number;
  /** Counts switches of the current knowledge base. */
  generation: number;
  /** The knowledge base JupyterLab started with (NODESPACE_KB), if any. */
  started_with: string | null;
  /** The Jupyter root folder: relative knowledge-base paths start here. */
  root: string;
}

/** A cited node of an answer: `[number]` in the text means node `id`. */
export interface ICitation {
  number: number;
  id: string;
  title: string;
}

/** A node retrieved for an answer, and why (search, or a neighbour of another source). */
export interface ISource extends ICitation {
  kind: string;
  reason: string;
}

/** The finished answer of `ai/ask`. */
export interface IAskAnswer {
  question: string;
  text: string;
  citations: ICitation[];
  sources: ISource[];
  invalid_citations: string[];
  chat_id: string | null;
  model: string;
  seconds: number;
  finish_reason: string;
}

/** A task read from a sentence (`ai/draft_task`): nothing is written yet. */
export interface ITaskDraft {
  sentence: string;
  title: string;
  due: string | null;
  priority: number | null;
  tags: string[];
  links: [string, string][];
  sources: Record<string, string>;
}

/** A call's answer: its result and the newest sequence number after it. */
export interface IAnswer<T> {
  result: T;
  seq: number;
}

/** An error answer of the API: `kind` is the service's error class (NotFound, ...). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    message: string
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** An error as one line for the user. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    return error.kind === 'HTTPError' || error.kind === 'NetworkError'
      ? error.message
      : `${error.kind}: ${error.message}`;
  }
  return String(error);
}

/** The service is (re)starting or the server does not answer: worth a retry. */
export function isRestarting(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 503 || error.status === 0);
}

/** Someone else changed the node since it was read (`expected_version` did not match). */
export function isConflict(error: unknown): boolean {
  return error instanceof ApiError && (error.kind === 'ConflictError' || error.status === 409);
}

/**
 * Undo the service's typed JSON (`{"$type": ..., "value": ...}`): nodes and
 * hits become plain objects, dates stay ISO strings, tuples become arrays.
 */
export function decode(data: unknown): unknown {
  if (Array.isArray(data)) {
    return data.map(decode);
  }
  if (data === null || typeof data !== 'object') {
    return data;
  }
  const record = data as Record<string, unknown>;
  const kind = record['$type'];
  if (typeof kind !== 'string') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(record)) {
      out[key] = decode(value);
    }
    return out;
  }
  const value = record['value'];
  switch (kind) {
    case 'node':
    case 'hit':
    case 'changeset':
    case 'tuple':
      return decode(value);
    case 'date':
    case 'datetime':
      return value;
    default:
      // Data frames (Arrow IPC) and future types are passed on undecoded.
      return record;
  }
}

const API_PATH = 'nodespace/api/v1';

/** Today in the browser's time zone, as YYYY-MM-DD ("tomorrow" means the user's tomorrow). */
export function localToday(): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** Calls to the knowledge base through the Jupyter server. */
export class NodeSpaceApi {
  constructor(settings?: ServerConnection.ISettings) {
    this.settings = settings ?? ServerConnection.makeSettings();
  }

  readonly settings: ServerConnection.ISettings;

  /** The current knowledge base and whether its service runs. */
  async status(): Promise<IStatus> {
    const response = await this.request('GET', 'status');
    return (await this.json(response)) as IStatus;
  }

  /**
   * Make the knowledge base at `path` the current one (relative to the Jupyter
   * root; "" is the one JupyterLab started with). Resolves once its service answers.
   */
  async select(path: string): Promise<IStatus> {
    const response = await this.request('POST', 'select', JSON.stringify({ path }));
    return (await this.json(response)) as IStatus;
  }

  /** `GET info`: protocol version, knowledge-base path and newest sequence number. */
  async info(): Promise<{ path: string; seq: number; [key: string]: unknown }> {
    const response = await this.request('GET', 'info');
    return (await this.json(response)) as { path: string; seq: number };
  }

  /**
   * Call a knowledge-base method: positional arguments in `args`, keyword
   * arguments by name (`call('update', [id], {title: 'x'})`).
   */
  async call<T>(
    method: CallOperation,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {}
  ): Promise<IAnswer<T>> {
    const body = JSON.stringify({ ...kwargs, args });
    const response = await this.request('POST', `kb/${method}`, body);
    const data = (await this.json(response)) as { result: unknown; seq: number };
    return { result: decode(data.result) as T, seq: data.seq };
  }

  /**
   * Ask the model (`ai/ask`): the answer's pieces go to `onPiece` as they are
   * written; resolves with the checked answer. `signal` stops it (the server
   * then stops generating).
   */
  async ask(
    body: { question: string; conversation?: string | null; save?: boolean },
    onPiece: (piece: string) => void,
    signal?: AbortSignal
  ): Promise<IAskAnswer> {
    const response = await this.request('POST', 'ai/ask', JSON.stringify(body), signal);
    if (!response.ok || !response.body) {
      await this.json(response); // throws the error answer
      throw new ApiError(response.status, 'HTTPError', 'The answer did not arrive.');
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    let answer: IAskAnswer | null = null;
    for (;;) {
      const { done, value } = await reader.read();
      buffered += decoder.decode(value ?? new Uint8Array(), { stream: !done });
      const lines = buffered.split('\n');
      buffered = done ? '' : lines.pop() ?? '';
      for (const line of lines.filter(l => l.trim())) {
        const message = JSON.parse(line) as Record<string, unknown>;
        if (typeof message['piece'] === 'string') {
          onPiece(message['piece']);
        } else if (typeof message['error'] === 'string') {
          throw new ApiError(500, message['error'], String(message['message'] ?? ''));
        } else if (message['answer']) {
          answer = message['answer'] as IAskAnswer;
        }
      }
      if (done) {
        break;
      }
    }
    if (!answer) {
      throw new ApiError(0, 'NetworkError', 'The answer stopped before it was finished.');
    }
    return answer;
  }

  /** A task read from `sentence` (dates relative to today), to confirm before it is added. */
  async draftTask(sentence: string): Promise<ITaskDraft> {
    const body = JSON.stringify({ sentence, today: localToday() });
    const response = await this.request('POST', 'ai/draft_task', body);
    return ((await this.json(response)) as { result: ITaskDraft }).result;
  }

  /**
   * The websocket URL of the change feed of knowledge base `kb`, replaying every
   * change after `since` (the server closes it if `kb` is no longer current).
   */
  feedUrl(since: number, kb: string): string {
    const query = `feed?since=${since}&kb=${encodeURIComponent(kb)}`;
    let url = URLExt.join(this.settings.wsUrl, API_PATH, query);
    if (this.settings.appendToken && this.settings.token) {
      url += `&token=${encodeURIComponent(this.settings.token)}`;
    }
    return url;
  }

  private async request(
    verb: string,
    route: string,
    body?: string,
    signal?: AbortSignal
  ): Promise<Response> {
    const url = URLExt.join(this.settings.baseUrl, API_PATH, route);
    const init: RequestInit = { method: verb, signal };
    if (body !== undefined) {
      init.body = body;
      init.headers = { 'Content-Type': 'application/json' };
    }
    try {
      return await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      throw new ApiError(0, 'NetworkError', `The Jupyter server does not answer: ${error}`);
    }
  }

  private async json(response: Response): Promise<unknown> {
    const text = await response.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const record = (data ?? {}) as Record<string, unknown>;
      const kind = typeof record['error'] === 'string' ? (record['error'] as string) : 'HTTPError';
      const message =
        typeof record['message'] === 'string' && record['message']
          ? (record['message'] as string)
          : `${response.status} ${response.statusText}`;
      throw new ApiError(response.status, kind, message);
    }
    return data;
  }
}
