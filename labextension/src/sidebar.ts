/**
 * The NodeSpace sidebar: status, search, today's journal, open tasks and the
 * outline of the knowledge base, kept up to date by the change feed.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import {
  ApiError,
  ChangeFeed,
  errorText,
  IChangeSet,
  IHit,
  INode,
  isConflict,
  isRestarting,
  IStatus,
  NodeSpaceApi
} from './api';
import { AskPanel } from './ask';
import { button, displayTitle, h, highlighted } from './dom';
import { nodespaceIcon } from './icon';
import { DEFAULT_SETTINGS, ISidebarSettings, SECTIONS, SectionName } from './settings';
import { TaskFromSentence } from './taskdraft';

/** Key of the top level in the outline's child lists (node ids are never empty). */
const ROOT = '';
const SEARCH_DELAY_MS = 150;
/** Changes arriving this close together are applied in one refresh. */
const COALESCE_MS = 15;
const UNDO_VISIBLE_MS = 15000;
const DETAILS_DELAY_MS = 80;
/** Type of the outline's drag data (a node id). */
const DRAG_TYPE = 'application/x-nodespace-node';
const WAITING = 'The NodeSpace service is starting or restarting';

type Mode = 'connecting' | 'unconfigured' | 'waiting' | 'ready' | 'error';

/** How long after a title field opens a blur not caused by the user counts as taken. */
const FOCUS_GRACE_MS = 500;

/** When the user last clicked or pressed Tab anywhere (what moves the focus on purpose). */
let lastUserMove = 0;
document.addEventListener('pointerdown', () => (lastUserMove = performance.now()), true);
document.addEventListener(
  'keydown',
  event => {
    if (event.key === 'Tab') {
      lastUserMove = performance.now();
    }
  },
  true
);

/**
 * An inline title field: Enter finishes, Escape cancels, and a blur finishes, except
 * right after it opened when the user did not move the focus (no click, no Tab):
 * a closing context menu or palette gives
 * the focus back to where it was, or a re-render takes it, and the field would
 * close at once. The field takes the focus back instead; a click elsewhere, or
 * Tab, finishes the edit as always.
 */
function bindTitleField(
  input: HTMLInputElement,
  stillEditing: () => boolean,
  finish: (commit: boolean) => void
): void {
  // Enter keeps the title, Escape drops it; keys stay out of the outline's handlers.
  input.addEventListener('keydown', event => {
    event.stopPropagation();
    if (event.key === 'Enter' || event.key === 'Escape') {
      event.preventDefault();
      finish(event.key === 'Enter');
    }
  });
  const opened = performance.now();
  input.addEventListener('blur', () => {
    const now = performance.now();
    const taken = now - opened < FOCUS_GRACE_MS && lastUserMove < opened;
    if (taken && stillEditing()) {
      window.setTimeout(() => {
        if (stillEditing()) {
          if (input.isConnected) {
            input.focus();
          } else {
            finish(true); // the field is gone: end the edit rather than leave it open
          }
        }
      }, 0);
      return;
    }
    finish(true);
  });
}

/**
 * Focus `input` now and once more after the current task: a command run from the
 * palette or a menu gives the focus back to where it was when that closes, after
 * the command ran, which would take it from the field the command focused.
 */
function focusAfterCommand(input: HTMLInputElement): void {
  input.focus();
  window.setTimeout(() => {
    if (document.activeElement !== input && input.isConnected) {
      input.focus();
    }
  }, 0);
}

function parentKey(parentId: unknown): string {
  return typeof parentId === 'string' ? parentId : ROOT;
}

/** What a batch of changes asks to reload. */
class Pending {
  all = false;
  tasks = false;
  today = false;
  search = false;
  details = false;
  parents = new Set<string>();
}

/** Where a dragged node would go: before or after a row, or inside it (as its last child). */
type DropZone = 'before' | 'after' | 'inside';

/** How the sidebar asks the application to open a node in the main area. */
export type OpenHandler = (id: string, options: { focus: boolean }) => void;

export class NodeSpaceSidebar extends Widget {
  constructor(api?: NodeSpaceApi) {
    super();
    this.api = api ?? new NodeSpaceApi();
    this.id = 'nodespace-sidebar';
    this.addClass('ns-sidebar');
    this.title.icon = nodespaceIcon;
    this.title.caption = 'NodeSpace';
    this.feed = new ChangeFeed(
      this.api,
      change => this.onChange(change),
      connected => this.onFeedState(connected),
      () => this.reload()
    );
    this.buildDom();
  }

  readonly api: NodeSpaceApi;

  /** Every change set of the feed, as it arrives (the node editors follow it). */
  get changed(): ISignal<this, IChangeSet> {
    return this._changed;
  }

  /** The selected node of the outline changed (null: none). */
  get selectionChanged(): ISignal<this, string | null> {
    return this._selectionChanged;
  }

  /** Another knowledge base became current (chosen here or in another tab): its path or null. */
  get kbChanged(): ISignal<this, string | null> {
    return this._kbChanged;
  }

  /** The path of the knowledge base shown ('' before the server answered). */
  get kbPath(): string {
    return this._kbPath;
  }

  /** Opens a node in the main area (set by the plugin). */
  openHandler: OpenHandler | null = null;

  /**
   * Runs before this sidebar switches to another knowledge base (the plugin saves
   * the node editors' unsaved changes); a rejection stops the switch.
   */
  beforeSwitch: (() => Promise<void>) | null = null;

  /** The node selected in the outline, if any. */
  get selectedId(): string | null {
    return this.selected;
  }

  /** Connect and follow the feed, if not done yet (also when the sidebar was never shown). */
  start(): void {
    this.ensureStarted();
  }

  /** Apply the settings: the knowledge base, shown sections and list sizes. */
  applySettings(settings: ISidebarSettings): void {
    const before = this.settings;
    this.settings = settings;
    for (const name of SECTIONS) {
      this.sectionOf(name).hidden = !settings.sections[name];
    }
    const wanted = settings.knowledgeBase;
    if (wanted !== this.requestedKb) {
      // At start-up an empty setting keeps whatever the server uses (NODESPACE_KB).
      const first = this.requestedKb === null;
      this.requestedKb = wanted;
      if (wanted || !first) {
        void this.switchTo(wanted);
      }
    }
    if (!this.started) {
      return;
    }
    const shown = (name: SectionName) => settings.sections[name] && !before.sections[name];
    if (shown('today')) {
      this.pending.today = true;
    }
    if (shown('tasks') || settings.tasksLimit !== before.tasksLimit) {
      this.pending.tasks = true;
    }
    if (shown('search') || settings.searchLimit !== before.searchLimit) {
      this.pending.search = true;
    }
    if (shown('selected')) {
      this.pending.details = true;
    }
    this.scheduleFlush();
  }

  /** Focus the search field (command "NodeSpace: Search"). */
  focusSearch(text?: string): void {
    this.searchSection.open = true;
    if (text !== undefined) {
      this.searchInput.value = text;
      this.scheduleSearch();
    }
    focusAfterCommand(this.searchInput);
    this.searchInput.select();
  }

  /** Focus the new-note field (command "NodeSpace: New note"). */
  focusNewNote(): void {
    this.outlineSection.open = true;
    focusAfterCommand(this.createInput);
  }

  /** Rename a node in place: show it in the outline and edit its title there. */
  async renameNode(id: string): Promise<void> {
    await this.reveal(id);
    this.startEdit(id);
  }

  /** Add a child to a node: an empty row under it takes the title (Enter adds, Escape cancels). */
  async newChild(id: string): Promise<void> {
    if (this.editing) {
      return;
    }
    await this.reveal(id, false);
    this.expanded.add(id);
    if (!this.lists.has(id)) {
      try {
        await this.loadChildren(id);
      } catch (error) {
        this.report(error);
        return;
      }
    }
    this.renderOutline();
    const item = this.itemOf(id);
    const parentRow = this.rowOf(id);
    if (!item || !parentRow || this.editing) {
      return;
    }
    let group = item.querySelector<HTMLElement>(':scope > .ns-group');
    if (!group) {
      group = h('ul', { className: 'ns-group', attrs: { role: 'group' } });
      item.appendChild(group);
    }
    const level = Number(item.getAttribute('aria-level') ?? '1') + 1;
    const input = h('input', {
      className: 'ns-title-input ns-new-child-input',
      attrs: {
        type: 'text',
        'aria-label': 'Title of the new child',
        placeholder: 'New child title…'
      }
    });
    const row = h(
      'div',
      { className: 'ns-row ns-draft' },
      h('span', { className: 'ns-toggle ns-leaf', text: '•' }),
      input
    );
    row.style.paddingLeft = `${(level - 1) * 14 + 2}px`;
    group.appendChild(h('li', { className: 'ns-item', attrs: { role: 'treeitem' } }, row));
    this.editing = { id: '', input };
    input.focus();
    const finish = async (commit: boolean): Promise<void> => {
      if (this.editing?.input !== input) {
        return;
      }
      this.editing = null;
      const title = input.value.trim();
      if (!commit || !title) {
        this.renderOutline();
        this.select(id);
        return;
      }
      try {
        const node = (await this.api.call<INode>('create', ['text', title], { parent: id })).result;
        this.remember([node]);
        this.selected = node.id;
        this.clearMessage();
      } catch (error) {
        this.report(error);
      }
      this.pending.parents.add(id);
      this.pending.parents.add(parentKey(this.nodes.get(id)?.parent_id));
      await this.flush();
      if (this.selected) {
        this.select(this.selected);
      }
    };
    bindTitleField(input, () => this.editing?.input === input, commit => void finish(commit));
  }

  /** Reload everything the sidebar shows. */
  async refreshAll(): Promise<void> {
    this.pending.all = true;
    await this.flush();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.feed.stop();
    window.clearTimeout(this.retryTimer);
    window.clearTimeout(this.searchTimer);
    window.clearTimeout(this.flushTimer);
    window.clearTimeout(this.undoTimer);
    window.clearTimeout(this.detailsTimer);
    super.dispose();
  }

  protected onAfterShow(): void {
    this.ensureStarted();
  }

  protected onAfterAttach(): void {
    if (this.isVisible) {
      this.ensureStarted();
    }
  }

  private ensureStarted(): void {
    if (!this.started) {
      this.started = true;
      void this.connect();
    }
  }

  // -- connection and status ------------------------------------------------

  private async connect(): Promise<void> {
    window.clearTimeout(this.retryTimer);
    const attempt = ++this.connectAttempt; // a newer attempt (after a switch) wins
    let status: IStatus;
    try {
      status = await this.api.status();
    } catch (error) {
      if (attempt === this.connectAttempt) {
        this.setMode('error', `Cannot reach the Jupyter server: ${errorText(error)}`);
        this.retryLater(3000);
      }
      return;
    }
    if (attempt !== this.connectAttempt) {
      return;
    }
    if (status.kb === null) {
      this.setMode(
        'unconfigured',
        'No knowledge base: choose one in Settings › NodeSpace › Knowledge base, or start ' +
          'JupyterLab with NODESPACE_KB=<folder> (`make lab` does).'
      );
      return;
    }
    const kb = status.kb;
    this._kbPath = kb;
    this.startedWith = status.started_with;
    if (!status.running) {
      this.setMode('waiting', this.waitingText(status.restarts));
      this.retryLater(1000);
      return;
    }
    try {
      const info = await this.api.info();
      this.pending.all = true;
      await this.flush(true);
      if (attempt !== this.connectAttempt) {
        return;
      }
      this.feed.start(info.seq, kb);
      this.setMode('ready');
    } catch (error) {
      if (attempt !== this.connectAttempt) {
        return;
      } else if (isRestarting(error)) {
        this.setMode('waiting', this.waitingText(status.restarts));
        this.retryLater(1000);
      } else {
        this.setMode('error', errorText(error));
        this.retryLater(5000);
      }
    }
  }

  /** Ask the server for the knowledge base at `path` ("" is JupyterLab's own) and reload. */
  private async switchTo(path: string): Promise<void> {
    const token = ++this.switchToken;
    const shown = path || 'the one JupyterLab started with';
    this.message = `Opening knowledge base ${shown}…`;
    this.renderStatus();
    try {
      await this.beforeSwitch?.();
      const status = await this.api.select(path);
      if (token !== this.switchToken) {
        return;
      }
      if (status.kb !== this._kbPath || this.mode !== 'ready') {
        this.reload();
      } else {
        this.clearMessage();
      }
    } catch (error) {
      if (token === this.switchToken) {
        this.message = `Knowledge base not changed: ${errorText(error)}`;
        this.renderStatus();
      }
    }
  }

  /** The knowledge base changed: forget what was shown and connect to the new one. */
  private reload(): void {
    this.feed.stop();
    this.editing = null; // an unfinished title edit belongs to the old knowledge base: dropped
    this.nodes.clear();
    this.lists.clear();
    this.expanded.clear();
    this.childCounts.clear();
    for (const [key, token] of this.childTokens) {
      this.childTokens.set(key, token + 1); // answers still in flight are dropped
    }
    this.searchToken++;
    this.todayToken++;
    this.tasksToken++;
    this.detailsToken++;
    this.taggedToken++;
    this.today = null;
    this.detailsFor = null;
    this.tagShown = null;
    this.undoAction = null;
    this.undoBar.hidden = true;
    this.askPanel.reset();
    this.pending = new Pending();
    if (this.selected !== null) {
      this.selected = null;
      this._selectionChanged.emit(null);
    }
    this.renderOutline();
    this._kbPath = '';
    this.started = true;
    this.setMode('connecting', 'Opening the knowledge base…');
    void this.connect().then(() => this._kbChanged.emit(this._kbPath || null));
  }

  private waitingText(restarts: number): string {
    const again = restarts > 0 ? ` (restarted ${restarts}×)` : '';
    return `${WAITING}${again}…`;
  }

  /** The feed dropped: say so, and whether the service is restarting; clear that on return. */
  private onFeedState(connected: boolean): void {
    if (connected && this.message.startsWith(WAITING)) {
      this.message = '';
    }
    this.renderStatus();
    if (!connected && this.mode === 'ready') {
      void this.api
        .status()
        .then(status => {
          if (status && !status.running && !this.feed.connected) {
            this.message = this.waitingText(status.restarts);
            this.renderStatus();
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
    this.mode = mode;
    this.message = message;
    this.node.dataset.mode = mode;
    this.body.hidden = mode === 'unconfigured';
    this.renderStatus();
  }

  private renderStatus(): void {
    const line = this.statusLine;
    line.replaceChildren();
    line.classList.toggle('ns-error', this.mode === 'error');
    if (this.mode === 'ready') {
      const path = this._kbPath;
      const name = path.split(/[\\/]/).filter(Boolean).pop() ?? path;
      line.appendChild(
        h('span', {
          className: 'ns-kb-name',
          text: name,
          title:
            path === this.startedWith
              ? `${path} (set by NODESPACE_KB when JupyterLab started)`
              : `${path} (chosen in Settings › NodeSpace)`
        })
      );
      const live = this.feed.connected;
      line.appendChild(
        h('span', {
          className: `ns-live ${live ? 'ns-live-on' : 'ns-live-off'}`,
          text: live ? '● live' : '○ reconnecting…',
          title: live
            ? 'Changes made anywhere (notebooks, the CLI) appear here.'
            : 'The change feed is reconnecting; missed changes follow.'
        })
      );
      if (this.message) {
        line.appendChild(h('span', { className: 'ns-note', text: this.message }));
      }
    } else {
      line.textContent = this.message || 'Connecting…';
    }
  }

  /** A message in the status line (errors of the last action), cleared by the next one. */
  private report(error: unknown): void {
    if (isRestarting(error)) {
      this.message = 'The service is restarting; try again in a moment.';
    } else if (isConflict(error)) {
      this.message = 'It changed elsewhere meanwhile; reloaded.';
      this.pending.all = true;
      this.scheduleFlush();
    } else {
      this.message = errorText(error);
    }
    this.renderStatus();
  }

  private clearMessage(): void {
    if (this.message && this.mode === 'ready') {
      this.message = '';
      this.renderStatus();
    }
  }

  // -- live updates -----------------------------------------------------------

  private onChange(change: IChangeSet): void {
    this._changed.emit(change);
    const pending = this.pending;
    pending.details = true; // backlinks and tags of the selected node may have changed
    for (const op of change.ops) {
      const rows = [op.before, op.after].filter(
        (row): row is Record<string, unknown> => row !== null && row !== undefined
      );
      if (rows.length === 0 && !op.op.startsWith('member')) {
        pending.all = true; // import, raw Cypher: no row images to go by
      }
      for (const row of rows) {
        pending.parents.add(parentKey(row['parent_id']));
        if (row['kind'] === 'task') {
          pending.tasks = true;
        }
        if (this.today && row['parent_id'] === this.today.id) {
          pending.today = true;
        }
      }
      if (op.kind === 'task') {
        pending.tasks = true;
      }
      if (this.today && op.id === this.today.id) {
        pending.today = true;
      }
      pending.search = true;
    }
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer === 0) {
      this.flushTimer = window.setTimeout(() => void this.flush(), COALESCE_MS);
      this.updateBusy();
    }
  }

  /** `aria-busy` on the outline while reloads or moves are under way (or about to start). */
  private updateBusy(): void {
    const busy = this.flushTimer !== 0 || this.flushing > 0 || this.movesInFlight > 0;
    this.tree.setAttribute('aria-busy', String(busy));
  }

  /** Apply what is pending: reload the affected lists (each keeps only its newest answer). */
  private async flush(strict = false): Promise<void> {
    window.clearTimeout(this.flushTimer);
    this.flushTimer = 0;
    this.flushing++;
    this.updateBusy();
    try {
      await this.flushPending(this.pending, strict);
    } finally {
      this.flushing--;
      this.updateBusy();
    }
  }

  private async flushPending(pending: Pending, strict: boolean): Promise<void> {
    this.pending = new Pending();
    const work: Promise<void>[] = [];
    if (pending.all) {
      const parents = [ROOT, ...[...this.expanded].filter(id => this.lists.has(id))];
      work.push(...parents.map(key => this.loadChildren(key)));
      work.push(this.loadToday(), this.loadTasks(), this.runSearch(), this.loadDetails());
    } else {
      const reload = new Set<string>();
      for (const key of pending.parents) {
        if (key === ROOT || this.lists.has(key)) {
          reload.add(key);
        } else if (this.nodes.has(key)) {
          // Children of a node not loaded: its expand arrow comes from its parent's counts.
          const above = parentKey(this.nodes.get(key)!.parent_id);
          if (above === ROOT || this.lists.has(above)) {
            reload.add(above);
          }
        }
      }
      for (const key of reload) {
        work.push(this.loadChildren(key));
      }
      if (pending.details) {
        work.push(this.loadDetails());
      }
      if (pending.today) {
        work.push(this.loadToday());
      }
      if (pending.tasks) {
        work.push(this.loadTasks());
      }
      if (pending.search && this.searchInput.value.trim()) {
        work.push(this.runSearch());
      }
    }
    const results = await Promise.allSettled(work);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed && strict) {
      throw failed.reason;
    } else if (failed) {
      this.report(failed.reason);
    }
  }

  // -- search -----------------------------------------------------------------

  private scheduleSearch(): void {
    window.clearTimeout(this.searchTimer);
    this.searchTimer = window.setTimeout(() => void this.runSearch(), SEARCH_DELAY_MS);
  }

  private async runSearch(): Promise<void> {
    const text = this.searchInput.value.trim();
    const token = ++this.searchToken;
    if (!text || !this.settings.sections.search) {
      this.searchResults.replaceChildren();
      return;
    }
    let hits: IHit[];
    const mode = this.searchMode.value;
    try {
      const options = { limit: this.settings.searchLimit, mode };
      hits = (await this.api.call<IHit[]>('search', [text], options)).result;
    } catch (error) {
      if (token === this.searchToken) {
        this.searchResults.replaceChildren(
          h('li', { className: 'ns-empty ns-error', text: `Search failed: ${errorText(error)}` })
        );
      }
      return;
    }
    if (token !== this.searchToken) {
      return; // a newer search is under way
    }
    this.renderHits(hits);
  }

  private renderHits(hits: IHit[]): void {
    const list = this.searchResults;
    list.replaceChildren();
    if (hits.length === 0) {
      list.appendChild(h('li', { className: 'ns-empty', text: 'No matches.' }));
      return;
    }
    for (const hit of hits) {
      const snippet = h('div', { className: 'ns-hit-snippet' });
      snippet.appendChild(highlighted(hit.snippet, hit.highlights ?? []));
      const item = h(
        'li',
        { className: 'ns-hit', attrs: { 'data-id': hit.id, tabindex: '0', role: 'button' } },
        h(
          'div',
          { className: 'ns-hit-head' },
          h('span', { className: 'ns-hit-title', text: displayTitle(hit.title) }),
          h('span', { className: 'ns-kind', text: hit.kind })
        ),
        snippet
      );
      this.opensOnActivate(item, hit.id);
      list.appendChild(item);
    }
  }

  // -- today ------------------------------------------------------------------

  private async loadToday(): Promise<void> {
    const token = ++this.todayToken;
    if (!this.settings.sections.today) {
      return;
    }
    const day = (await this.api.call<INode>('journal')).result;
    const entries = (await this.api.call<INode[]>('children', [day.id])).result;
    if (token !== this.todayToken) {
      return;
    }
    this.today = day;
    this.remember(entries);
    this.todayTitle.textContent = `Today · ${day.title}`;
    const list = this.todayList;
    list.replaceChildren();
    if (entries.length === 0) {
      list.appendChild(h('li', { className: 'ns-empty', text: 'Nothing written today yet.' }));
    }
    for (const entry of entries) {
      const item = h(
        'li',
        { className: 'ns-entry', attrs: { 'data-id': entry.id, tabindex: '0', role: 'button' } },
        h('span', { className: 'ns-entry-title', text: displayTitle(entry.title) }),
        entry.kind !== 'text' ? h('span', { className: 'ns-kind', text: entry.kind }) : null
      );
      this.opensOnActivate(item, entry.id);
      list.appendChild(item);
    }
  }

  private async addToToday(): Promise<void> {
    const title = this.todayInput.value.trim();
    if (!title || !this.today) {
      return;
    }
    try {
      await this.api.call<INode>('create', ['text', title], { parent: this.today.id });
      this.todayInput.value = '';
      this.clearMessage();
    } catch (error) {
      this.report(error);
    }
    this.pending.today = true;
    this.pending.parents.add(this.today.id);
    this.scheduleFlush();
  }

  // -- tasks ------------------------------------------------------------------

  private async loadTasks(): Promise<void> {
    const token = ++this.tasksToken;
    if (!this.settings.sections.tasks) {
      return;
    }
    const limit = this.settings.tasksLimit;
    const tasks = (await this.api.call<INode[]>('open_tasks', [], { limit })).result;
    if (token !== this.tasksToken) {
      return;
    }
    this.remember(tasks);
    const list = this.taskList;
    list.replaceChildren();
    if (tasks.length === 0) {
      list.appendChild(h('li', { className: 'ns-empty', text: 'No open tasks.' }));
    }
    const today = this.today?.id ?? new Date().toISOString().slice(0, 10);
    for (const task of tasks) {
      const box = h('input', {
        className: 'ns-task-check',
        attrs: { type: 'checkbox', 'aria-label': `Done: ${displayTitle(task.title)}` }
      });
      box.addEventListener('change', () => void this.setDone(task, box));
      const title = h('span', {
        className: 'ns-task-title',
        text: displayTitle(task.title),
        attrs: { tabindex: '0', role: 'button' }
      });
      this.opensOnActivate(title, task.id);
      const item = h(
        'li',
        {
          className: `ns-task${task.task_status === 'doing' ? ' ns-doing' : ''}`,
          attrs: { 'data-id': task.id }
        },
        box,
        title
      );
      if (task.priority !== null && task.priority !== undefined) {
        item.appendChild(h('span', { className: 'ns-priority', text: `P${task.priority}` }));
      }
      if (task.due) {
        const overdue = task.due < today;
        item.appendChild(
          h('span', {
            className: `ns-due${overdue ? ' ns-overdue' : ''}`,
            text: task.due,
            title: overdue ? 'overdue' : 'due'
          })
        );
      }
      list.appendChild(item);
    }
  }

  private async setDone(task: INode, box: HTMLInputElement): Promise<void> {
    box.disabled = true;
    try {
      const answer = await this.api.call<INode>('update', [task.id], {
        task_status: box.checked ? 'done' : 'todo'
      });
      this.remember([answer.result]);
      this.clearMessage();
    } catch (error) {
      box.checked = !box.checked;
      this.report(error);
    } finally {
      box.disabled = false;
    }
    this.pending.tasks = true;
    this.pending.parents.add(parentKey(task.parent_id));
    this.scheduleFlush();
  }

  // -- outline ----------------------------------------------------------------

  private remember(nodes: INode[]): void {
    for (const node of nodes) {
      this.nodes.set(node.id, node);
    }
  }

  private async loadChildren(key: string): Promise<void> {
    const token = (this.childTokens.get(key) ?? 0) + 1;
    this.childTokens.set(key, token);
    const parent = key === ROOT ? null : key;
    const [kids, counts] = await Promise.all([
      this.api.call<INode[]>('children', [parent]),
      this.api.call<Record<string, number>>('child_counts', [parent])
    ]);
    if (this.childTokens.get(key) !== token) {
      return;
    }
    if (this.movesInFlight > 0) {
      this.pending.parents.add(key); // may predate a move under way: reloaded after it
      return;
    }
    const signature = (nodes: INode[] | undefined) =>
      nodes?.map(n => `${n.id}:${n.version}:${this.childCounts.get(n.id) ?? ''}`).join(' ');
    const before = signature(this.lists.get(key));
    this.remember(kids.result);
    this.lists.set(key, kids.result);
    for (const [id, count] of Object.entries(counts.result)) {
      this.childCounts.set(id, count);
    }
    if (signature(kids.result) !== before || this.renderLater) {
      this.renderOutline(); // unchanged lists keep their rows (and a drag or the focus)
    }
  }

  private renderOutline(): void {
    if (this.editing || this.dragging) {
      this.renderLater = true;
      return; // rendered when the edit or the drag ends
    }
    this.renderLater = false;
    const hadFocus = this.tree.contains(document.activeElement);
    const top = this.lists.get(ROOT);
    this.tree.replaceChildren();
    if (top === undefined) {
      this.tree.appendChild(h('li', { className: 'ns-empty', text: 'Loading…' }));
      return;
    }
    if (top.length === 0) {
      this.tree.appendChild(
        h('li', { className: 'ns-empty', text: 'Nothing here yet: add a note above.' })
      );
    }
    for (const node of top) {
      this.tree.appendChild(this.renderItem(node, 1));
    }
    const rows = this.rows();
    if (this.selected && !this.rowOf(this.selected)) {
      this.selected = null;
    }
    const current = this.selected ? this.rowOf(this.selected) : rows[0];
    current?.setAttribute('tabindex', '0');
    if (hadFocus && current) {
      current.focus();
    }
  }

  private renderItem(node: INode, level: number): HTMLLIElement {
    const kids = this.lists.get(node.id);
    const expanded = this.expanded.has(node.id);
    const count = kids?.length ?? this.childCounts.get(node.id);
    const leaf = count === 0;
    const item = h('li', {
      className: 'ns-item',
      attrs: { role: 'treeitem', 'data-id': node.id, 'aria-level': String(level) }
    });
    if (!leaf) {
      item.setAttribute('aria-expanded', String(expanded));
    }
    const row = h('div', {
      className: `ns-row${this.selected === node.id ? ' ns-selected' : ''}`,
      attrs: { tabindex: '-1', 'data-id': node.id, draggable: 'true' }
    });
    row.style.paddingLeft = `${(level - 1) * 14 + 2}px`;
    const toggle = h('span', {
      className: `ns-toggle${leaf ? ' ns-leaf' : ''}`,
      text: leaf ? '•' : expanded ? '▾' : '▸',
      title: leaf ? '' : `${expanded ? 'Collapse' : 'Expand'}${count ? ` (${count} below)` : ''}`
    });
    row.appendChild(toggle);
    if (node.kind === 'task') {
      const box = h('input', {
        className: 'ns-row-check',
        attrs: { type: 'checkbox', tabindex: '-1', 'aria-label': `Done: ${node.title}` }
      });
      box.checked = node.task_status === 'done';
      box.addEventListener('change', () => void this.setDone(node, box));
      row.appendChild(box);
    } else if (node.kind !== 'text') {
      row.appendChild(h('span', { className: 'ns-kind', text: node.kind }));
    }
    row.appendChild(
      h('span', {
        className: `ns-title${node.kind === 'task' && node.task_status === 'done' ? ' ns-done' : ''}`,
        text: displayTitle(node.title),
        title:
          'Click to open; double-click or Enter to rename; Tab / Shift-Tab to indent / ' +
          'outdent; Alt+Up / Alt+Down or drag to move; right-click for more'
      })
    );
    row.appendChild(
      button('×', 'ns-delete', `Delete “${displayTitle(node.title)}”`, event => {
        event.stopPropagation();
        void this.deleteNode(node.id);
      })
    );
    item.appendChild(row);
    if (expanded && !leaf) {
      const group = h('ul', { className: 'ns-group', attrs: { role: 'group' } });
      if (kids === undefined) {
        group.appendChild(h('li', { className: 'ns-empty', text: 'Loading…' }));
      } else {
        for (const kid of kids) {
          group.appendChild(this.renderItem(kid, level + 1));
        }
      }
      item.appendChild(group);
    }
    return item;
  }

  private rows(): HTMLElement[] {
    return Array.from(this.tree.querySelectorAll<HTMLElement>('.ns-row'));
  }

  private rowOf(id: string): HTMLElement | null {
    return this.rows().find(row => row.dataset.id === id) ?? null;
  }

  private itemOf(id: string): HTMLElement | null {
    return this.rowOf(id)?.parentElement ?? null;
  }

  private select(id: string, focus = true): void {
    if (this.editing) {
      // A title being edited keeps the selection and the focus: work that finishes
      // meanwhile (a reload, a create) must not blur it, which would end the edit.
      return;
    }
    const changed = this.selected !== id;
    this.selected = id;
    if (this.detailsFor !== id) {
      this.scheduleDetails();
    }
    if (changed) {
      this._selectionChanged.emit(id);
    }
    for (const row of this.rows()) {
      const on = row.dataset.id === id;
      row.classList.toggle('ns-selected', on);
      row.setAttribute('tabindex', on ? '0' : '-1');
      if (on && focus) {
        row.focus();
        row.scrollIntoView({ block: 'nearest' });
      }
    }
  }

  private async toggle(id: string, open?: boolean): Promise<void> {
    const expand = open ?? !this.expanded.has(id);
    if (expand) {
      this.expanded.add(id);
    } else {
      this.expanded.delete(id);
    }
    this.renderOutline();
    if (expand && !this.lists.has(id)) {
      try {
        await this.loadChildren(id);
      } catch (error) {
        this.report(error);
      }
    }
  }

  /** Show a node in the outline and open it in the main area. */
  private showAndOpen(id: string, focus: boolean): void {
    void this.reveal(id, false);
    this.openNode(id, focus);
  }

  /** A click on `element` opens the node (focus stays here); Enter opens and focuses it. */
  private opensOnActivate(element: HTMLElement, id: string): void {
    element.addEventListener('click', () => this.showAndOpen(id, false));
    element.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        this.showAndOpen(id, true);
      }
    });
  }

  private openNode(id: string, focus: boolean): void {
    this.openHandler?.(id, { focus });
  }

  /** Show a node in the outline: expand its ancestors and select it (and focus it). */
  async reveal(id: string, focus = true): Promise<void> {
    try {
      const chain = (await this.api.call<INode[]>('ancestors', [id])).result.reverse();
      this.remember(chain);
      for (const ancestor of chain) {
        this.expanded.add(ancestor.id);
        if (!this.lists.has(ancestor.id)) {
          await this.loadChildren(ancestor.id);
        }
      }
      if (!this.lists.has(ROOT)) {
        await this.loadChildren(ROOT);
      }
    } catch (error) {
      this.report(error);
      return;
    }
    this.outlineSection.open = true;
    this.selected = id;
    this.renderOutline();
    this.select(id, focus);
  }

  private onTreeClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const row = target.closest<HTMLElement>('.ns-row');
    if (!row || !row.dataset.id || target.closest('input')) {
      return;
    }
    if (target.classList.contains('ns-toggle')) {
      void this.toggle(row.dataset.id);
    }
    this.select(row.dataset.id);
    if (target.classList.contains('ns-title') && event.detail <= 1) {
      this.openNode(row.dataset.id, false); // the focus stays here: double-click renames
    }
  }

  private onTreeDoubleClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const row = target.closest<HTMLElement>('.ns-row');
    if (row?.dataset.id && target.classList.contains('ns-title')) {
      this.startEdit(row.dataset.id);
    }
  }

  private onTreeKey(event: KeyboardEvent): void {
    const target = event.target as HTMLElement;
    if (!target.classList.contains('ns-row') || !target.dataset.id) {
      return;
    }
    const id = target.dataset.id;
    const node = this.nodes.get(id);
    const rows = this.rows();
    const at = rows.indexOf(target);
    let handled = true;
    if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
      this.moveAmongSiblings(id, event.key === 'ArrowUp' ? -1 : 1);
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    switch (event.key) {
      case 'Enter':
      case 'F2':
        this.startEdit(id);
        break;
      case 'Tab':
        // Where a node cannot move, Tab moves the focus as usual (no keyboard trap).
        handled = event.shiftKey ? this.outdent(id) : this.indent(id);
        break;
      case 'Delete':
        void this.deleteNode(id);
        break;
      case 'ArrowDown':
        if (at + 1 < rows.length) {
          this.select(rows[at + 1].dataset.id!);
        }
        break;
      case 'ArrowUp':
        if (at > 0) {
          this.select(rows[at - 1].dataset.id!);
        }
        break;
      case 'ArrowRight':
        void this.toggle(id, true).then(() => this.select(id));
        break;
      case 'ArrowLeft':
        if (this.expanded.has(id)) {
          void this.toggle(id, false).then(() => this.select(id));
        } else if (node?.parent_id && this.rowOf(node.parent_id)) {
          this.select(node.parent_id);
        }
        break;
      default:
        handled = false;
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  }

  private startEdit(id: string): void {
    const node = this.nodes.get(id);
    const row = this.rowOf(id);
    const label = row?.querySelector<HTMLElement>('.ns-title');
    if (!node || !row || !label || this.editing) {
      return;
    }
    this.select(id, false);
    const input = h('input', {
      className: 'ns-title-input',
      attrs: { type: 'text', 'aria-label': 'Title' }
    });
    input.value = node.title;
    label.replaceWith(input);
    this.editing = { id, input };
    input.focus();
    input.select();
    const finish = async (commit: boolean): Promise<void> => {
      if (this.editing?.input !== input) {
        return;
      }
      this.editing = null;
      const title = input.value;
      const changed = commit && title !== node.title;
      if (changed) {
        // Shown at once; the reload after the write confirms it (or reports a conflict).
        this.nodes.set(id, { ...node, title });
        const siblings = this.lists.get(parentKey(node.parent_id));
        const index = siblings?.findIndex(n => n.id === id) ?? -1;
        if (siblings && index >= 0) {
          siblings[index] = { ...node, title };
        }
      }
      this.renderOutline();
      this.select(id);
      if (!changed) {
        return;
      }
      try {
        const answer = await this.api.call<INode>('update', [id], {
          expected_version: node.version,
          title
        });
        this.remember([answer.result]); // its new version, for the next edit
        this.clearMessage();
      } catch (error) {
        this.report(error);
      }
      this.pending.parents.add(parentKey(node.parent_id));
      this.pending.search = true;
      this.pending.tasks = node.kind === 'task';
      this.scheduleFlush();
    };
    bindTitleField(input, () => this.editing?.input === input, commit => void finish(commit));
    input.addEventListener('click', event => event.stopPropagation());
    input.addEventListener('dblclick', event => event.stopPropagation());
  }

  private async createNode(): Promise<void> {
    const title = this.createInput.value.trim();
    if (!title) {
      this.createInput.focus();
      return;
    }
    try {
      const node = (await this.api.call<INode>('create', ['text', title])).result;
      this.createInput.value = '';
      this.remember([node]);
      this.selected = node.id;
      this.clearMessage();
    } catch (error) {
      this.report(error);
    }
    this.pending.parents.add(ROOT);
    await this.flush();
    if (this.selected) {
      this.select(this.selected, false);
      this.rowOf(this.selected)?.scrollIntoView({ block: 'nearest' });
    }
  }

  /** Move a node under its previous sibling (as its last child); false if it has none. */
  private indent(id: string): boolean {
    const node = this.nodes.get(id);
    const siblings = node ? this.lists.get(parentKey(node.parent_id)) : undefined;
    const index = siblings?.findIndex(n => n.id === id) ?? -1;
    if (!node || !siblings || index <= 0) {
      return false; // the first child has nothing to go under
    }
    const parent = siblings[index - 1];
    void this.move(node, parent.id, null, [parentKey(node.parent_id), parent.id]);
    return true;
  }

  /** Move a node out of its parent, right after it; false at the top level. */
  private outdent(id: string): boolean {
    const node = this.nodes.get(id);
    const parent = node?.parent_id ? this.nodes.get(node.parent_id) : undefined;
    if (!node || !parent) {
      return false;
    }
    const grand = parentKey(parent.parent_id);
    const uncles = this.lists.get(grand) ?? [];
    const index = uncles.findIndex(n => n.id === parent.id);
    void this.move(node, parent.parent_id, index < 0 ? null : index + 1, [grand, parent.id]);
    return true;
  }

  /**
   * Move a node: shown at once (keys pressed next see the new order), written in
   * order (one move at a time), and the outline reloaded when the last one is done.
   */
  private move(
    node: INode,
    parent: string | null,
    index: number | null,
    affected: string[]
  ): Promise<void> {
    this.moveLocally(node, parent, index);
    this.movesInFlight++;
    this.updateBusy();
    const run = async (): Promise<void> => {
      try {
        const answer = await this.api.call<INode>('move', [node.id, parent, index]);
        this.remember([answer.result]);
        this.clearMessage();
      } catch (error) {
        this.report(error);
      } finally {
        this.movesInFlight--;
        this.updateBusy();
      }
      for (const key of affected) {
        this.pending.parents.add(key);
      }
      if (this.movesInFlight > 0) {
        return; // the last move reloads
      }
      await this.flush();
      if (parent !== null && !this.lists.has(parent)) {
        await this.loadChildren(parent);
      }
      if (this.rowOf(node.id)) {
        this.select(node.id);
      }
    };
    this.moves = this.moves.then(run, run);
    return this.moves;
  }

  /** The outline as it will be after a move (the reload afterwards confirms it). */
  private moveLocally(node: INode, parent: string | null, index: number | null): void {
    const from = parentKey(node.parent_id);
    const to = parentKey(parent);
    const moved: INode = { ...node, parent_id: parent };
    const source = this.lists.get(from);
    if (source) {
      this.lists.set(
        from,
        source.filter(n => n.id !== node.id)
      );
    }
    const target = this.lists.get(to);
    if (target) {
      const list = target.filter(n => n.id !== node.id);
      list.splice(index === null ? list.length : Math.min(index, list.length), 0, moved);
      this.lists.set(to, list);
    } else if (parent !== null) {
      this.childCounts.set(parent, (this.childCounts.get(parent) ?? 0) + 1);
    }
    this.nodes.set(node.id, moved);
    if (parent !== null) {
      this.expanded.add(parent);
    }
    this.selected = node.id;
    this.renderOutline();
    if (this.rowOf(node.id)) {
      this.select(node.id);
    }
  }

  /** Move a node one place up (-1) or down (+1) among its siblings. */
  private moveAmongSiblings(id: string, step: -1 | 1): void {
    const node = this.nodes.get(id);
    const key = parentKey(node?.parent_id);
    const siblings = this.lists.get(key);
    const index = siblings?.findIndex(n => n.id === id) ?? -1;
    if (!node || !siblings || index < 0) {
      return;
    }
    const to = index + step;
    if (to < 0 || to >= siblings.length) {
      return;
    }
    void this.move(node, node.parent_id ?? null, to, [key]);
  }

  /** Delete a node (and what is below it), with Undo in the sidebar. */
  async deleteNode(id: string): Promise<void> {
    const node = this.nodes.get(id);
    if (!node) {
      return;
    }
    const rows = this.rows();
    const at = rows.findIndex(row => row.dataset.id === id);
    const neighbour = rows[at + 1]?.dataset.id ?? rows[at - 1]?.dataset.id ?? null;
    let answer;
    try {
      answer = await this.api.call<string[]>('delete', [id]);
      this.clearMessage();
    } catch (error) {
      this.report(error);
      return;
    }
    const more = answer.result.length - 1;
    const what = `Deleted “${displayTitle(node.title)}”${more > 0 ? ` and ${more} below it` : ''}.`;
    const deletedAt = answer.seq;
    this.showUndo(what, async () => {
      // Undo reverts the newest change set: only when that is still this delete.
      // After other writes, restoring the node brings back exactly what was deleted.
      const newest = (await this.api.call<number>('seq')).result;
      if (newest === deletedAt) {
        await this.api.call('undo');
      } else {
        await this.api.call('restore', [id]);
      }
      this.selected = id;
      this.pending.parents.add(parentKey(node.parent_id));
      this.pending.tasks = true;
      this.pending.today = true;
      await this.flush();
      if (this.rowOf(id)) {
        this.select(id);
      }
    });
    this.selected = neighbour && neighbour !== id ? neighbour : null;
    this.pending.parents.add(parentKey(node.parent_id));
    this.pending.tasks = true;
    this.pending.search = true;
    await this.flush();
    if (this.selected) {
      this.select(this.selected);
    }
  }

  private showUndo(message: string, action: () => Promise<void>): void {
    window.clearTimeout(this.undoTimer);
    this.undoText.textContent = message;
    this.undoAction = action;
    this.undoBar.hidden = false;
    this.undoTimer = window.setTimeout(() => {
      this.undoBar.hidden = true;
      this.undoAction = null;
    }, UNDO_VISIBLE_MS);
  }

  private async runUndo(): Promise<void> {
    const action = this.undoAction;
    this.undoAction = null;
    this.undoBar.hidden = true;
    window.clearTimeout(this.undoTimer);
    if (action) {
      try {
        await action();
        this.clearMessage();
      } catch (error) {
        this.report(error);
      }
    }
  }

  // -- drag and drop ----------------------------------------------------------

  private onDragStart(event: DragEvent): void {
    const row = (event.target as HTMLElement).closest?.<HTMLElement>('.ns-row');
    const id = row?.dataset.id;
    if (!row || !id || this.editing || !event.dataTransfer) {
      return;
    }
    this.dragging = id;
    event.dataTransfer.effectAllowed = 'move';
    event.dataTransfer.setData(DRAG_TYPE, id);
    event.dataTransfer.setData('text/plain', displayTitle(this.nodes.get(id)?.title ?? id));
    row.classList.add('ns-dragging');
  }

  /** The row under the pointer and where in it a drop would go, if it may go there. */
  private dropTarget(event: DragEvent): { row: HTMLElement; zone: DropZone } | null {
    const dragged = this.dragging;
    const row = (event.target as HTMLElement).closest?.<HTMLElement>('.ns-row');
    const id = row?.dataset.id;
    if (!dragged || !row || !id || id === dragged) {
      return null;
    }
    // Not into its own subtree.
    if (row.closest(`.ns-item[data-id="${CSS.escape(dragged)}"]`)) {
      return null;
    }
    const box = row.getBoundingClientRect();
    const at = (event.clientY - box.top) / Math.max(box.height, 1);
    const zone: DropZone = at < 0.25 ? 'before' : at > 0.75 ? 'after' : 'inside';
    return { row, zone };
  }

  private onDragOver(event: DragEvent): void {
    const target = this.dropTarget(event);
    this.clearDropMarks();
    if (!target) {
      return;
    }
    event.preventDefault(); // allows the drop
    if (event.dataTransfer) {
      event.dataTransfer.dropEffect = 'move';
    }
    target.row.classList.add(`ns-drop-${target.zone}`);
  }

  private onDrop(event: DragEvent): void {
    const target = this.dropTarget(event);
    const dragged = this.dragging;
    this.endDrag();
    if (!target || !dragged) {
      return;
    }
    event.preventDefault();
    const node = this.nodes.get(dragged);
    const onto = this.nodes.get(target.row.dataset.id!);
    if (!node || !onto) {
      return;
    }
    const from = parentKey(node.parent_id);
    if (target.zone === 'inside') {
      void this.move(node, onto.id, null, [from, onto.id]);
      return;
    }
    const key = parentKey(onto.parent_id);
    const all = this.lists.get(key) ?? [];
    const siblings = all.filter(n => n.id !== node.id);
    const at = siblings.findIndex(n => n.id === onto.id);
    const index = at < 0 ? null : target.zone === 'before' ? at : at + 1;
    if (key === from && index === all.findIndex(n => n.id === node.id)) {
      return; // dropped where it already is
    }
    void this.move(node, onto.parent_id ?? null, index, [from, key]);
  }

  private endDrag(): void {
    this.dragging = null;
    this.clearDropMarks();
    this.tree.querySelector('.ns-dragging')?.classList.remove('ns-dragging');
    if (this.renderLater) {
      this.renderOutline();
    }
  }

  private clearDropMarks(): void {
    for (const marked of this.tree.querySelectorAll(
      '.ns-drop-before, .ns-drop-after, .ns-drop-inside'
    )) {
      marked.classList.remove('ns-drop-before', 'ns-drop-after', 'ns-drop-inside');
    }
  }

  // -- the selected node: tags and backlinks ---------------------------------------

  private scheduleDetails(): void {
    window.clearTimeout(this.detailsTimer);
    this.detailsTimer = window.setTimeout(() => {
      void this.loadDetails().catch(error => this.report(error));
    }, DETAILS_DELAY_MS);
  }

  private async loadDetails(): Promise<void> {
    window.clearTimeout(this.detailsTimer);
    const id = this.selected;
    const token = ++this.detailsToken;
    if (!this.settings.sections.selected) {
      return;
    }
    if (!id) {
      this.detailsFor = null;
      this.renderDetails(null, [], []);
      return;
    }
    let tags: string[];
    let backlinks: INode[];
    try {
      [tags, backlinks] = await Promise.all([
        this.api.call<string[]>('tags', [id]).then(a => a.result),
        this.api.call<INode[]>('backlinks', [id]).then(a => a.result)
      ]);
    } catch (error) {
      if (error instanceof ApiError && error.kind === 'NotFound') {
        tags = [];
        backlinks = [];
      } else {
        throw error;
      }
    }
    if (token !== this.detailsToken) {
      return;
    }
    this.detailsFor = id;
    this.remember(backlinks);
    this.renderDetails(this.nodes.get(id) ?? null, tags, backlinks);
    if (this.tagShown && !tags.includes(this.tagShown)) {
      this.tagShown = null;
    }
    if (this.tagShown) {
      await this.showTagged(this.tagShown);
    }
  }

  private renderDetails(node: INode | null, tags: string[], backlinks: INode[]): void {
    const body = this.detailsBody;
    body.replaceChildren();
    if (!node) {
      body.appendChild(
        h('div', {
          className: 'ns-empty',
          text: 'Select a node in the outline to see its tags and backlinks.'
        })
      );
      return;
    }
    const title = h('div', {
      className: 'ns-details-title',
      text: displayTitle(node.title),
      title: 'Open',
      attrs: { tabindex: '0', role: 'button', 'data-id': node.id }
    });
    title.addEventListener('click', () => this.openNode(node.id, true));
    title.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        this.openNode(node.id, true);
      }
    });
    body.appendChild(title);

    const tagList = h('div', { className: 'ns-tags', attrs: { 'aria-label': 'Tags' } });
    if (tags.length === 0) {
      tagList.appendChild(h('span', { className: 'ns-empty', text: 'No tags.' }));
    }
    for (const tag of tags) {
      const chip = button(`#${tag}`, 'ns-tag', `Nodes tagged ${tag}`, () => {
        this.tagShown = this.tagShown === tag ? null : tag;
        void this.showTagged(this.tagShown);
      });
      chip.dataset.tag = tag;
      chip.classList.toggle('ns-tag-open', tag === this.tagShown);
      tagList.appendChild(chip);
    }
    body.appendChild(tagList);
    body.appendChild(this.taggedList);

    body.appendChild(
      h('div', { className: 'ns-subtitle', text: `Backlinks (${backlinks.length})` })
    );
    const list = h('ul', { className: 'ns-list ns-backlinks' });
    if (backlinks.length === 0) {
      list.appendChild(h('li', { className: 'ns-empty', text: 'Nothing links here yet.' }));
    }
    for (const source of backlinks) {
      list.appendChild(this.nodeItem(source, 'ns-backlink'));
    }
    body.appendChild(list);
  }

  /** The nodes carrying a tag, under the tags (null: hide the list). */
  private async showTagged(tag: string | null): Promise<void> {
    const list = this.taggedList;
    for (const chip of this.detailsBody.querySelectorAll<HTMLElement>('.ns-tag')) {
      chip.classList.toggle('ns-tag-open', chip.dataset.tag === tag);
    }
    if (!tag) {
      list.replaceChildren();
      return;
    }
    const token = ++this.taggedToken;
    let members: INode[];
    try {
      members = (await this.api.call<INode[]>('members', [tag])).result;
    } catch (error) {
      this.report(error);
      return;
    }
    if (token !== this.taggedToken) {
      return;
    }
    this.remember(members);
    list.replaceChildren(h('li', { className: 'ns-subtitle', text: `Tagged #${tag}` }));
    for (const member of members) {
      list.appendChild(this.nodeItem(member, 'ns-tagged'));
    }
  }

  /** A list item for a node: click (or Enter) opens it. */
  private nodeItem(node: INode, className: string): HTMLLIElement {
    const item = h(
      'li',
      {
        className: `ns-entry ${className}`,
        attrs: { 'data-id': node.id, tabindex: '0', role: 'button' }
      },
      h('span', { className: 'ns-entry-title', text: displayTitle(node.title) }),
      node.kind !== 'text' ? h('span', { className: 'ns-kind', text: node.kind }) : null
    );
    this.opensOnActivate(item, node.id);
    return item;
  }

  // -- DOM --------------------------------------------------------------------

  private sectionOf(name: SectionName): HTMLDetailsElement {
    const sections: Record<SectionName, HTMLDetailsElement> = {
      search: this.searchSection,
      ask: this.askSection,
      today: this.todaySection,
      tasks: this.tasksSection,
      selected: this.detailsSection,
      outline: this.outlineSection
    };
    return sections[name];
  }

  private section(title: string, className: string, open = true): HTMLDetailsElement {
    const summary = h('summary', { className: 'ns-section-title', text: title });
    const details = h('details', { className: `ns-section ${className}` }, summary);
    details.open = open;
    this.body.appendChild(details);
    return details;
  }

  private buildDom(): void {
    const root = this.node;
    const header = h(
      'header',
      { className: 'ns-header' },
      h('h2', { className: 'ns-heading', text: 'NodeSpace' }),
      this.statusLine
    );
    this.statusLine.setAttribute('role', 'status');
    this.statusLine.setAttribute('aria-live', 'polite');
    this.undoBar.hidden = true;
    this.undoBar.append(
      this.undoText,
      button('Undo', 'ns-undo-button', 'Undo the delete', () => void this.runUndo())
    );
    root.append(header, this.undoBar, this.body);
    this.renderStatus();

    // Search
    this.searchSection = this.section('Search', 'ns-search');
    this.searchInput.type = 'search';
    this.searchInput.className = 'ns-input ns-search-input';
    this.searchInput.placeholder = 'Search notes and tasks…';
    this.searchInput.setAttribute('aria-label', 'Search the knowledge base');
    this.searchInput.addEventListener('input', () => this.scheduleSearch());
    this.searchInput.addEventListener('keydown', event => {
      if (event.key === 'Escape') {
        this.searchInput.value = '';
        this.scheduleSearch();
      }
    });
    this.searchResults.className = 'ns-list ns-search-results';
    this.searchMode.className = 'ns-search-mode';
    this.searchMode.setAttribute('aria-label', 'How to search');
    for (const [value, label, title] of [
      ['hybrid', 'Words + meaning', 'Full text and semantic search, ranked together'],
      ['text', 'Words', 'Full-text search only (no model needed)'],
      ['semantic', 'Meaning', 'Semantic search only: finds notes that say it differently']
    ]) {
      const option = h('option', { text: label, title });
      option.value = value;
      this.searchMode.appendChild(option);
    }
    this.searchMode.addEventListener('change', () => this.scheduleSearch());
    this.searchSection.append(
      h('div', { className: 'ns-search-bar' }, this.searchInput, this.searchMode),
      this.searchResults
    );

    // Ask
    this.askPanel = new AskPanel(this.api, id => this.openNode(id, true));
    this.askSection = this.section('Ask', 'ns-ask-section');
    this.askSection.append(this.askPanel.node);

    // Today
    const today = this.section('Today', 'ns-today');
    this.todaySection = today;
    this.todayTitle = today.querySelector('summary')!;
    this.todayList.className = 'ns-list ns-today-list';
    this.todayInput.type = 'text';
    this.todayInput.className = 'ns-input ns-today-input';
    this.todayInput.placeholder = 'Add to today…';
    this.todayInput.setAttribute('aria-label', "Add to today's journal");
    this.todayInput.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        void this.addToToday();
      }
    });
    today.append(this.todayList, this.todayInput);

    // Tasks
    const tasks = this.section('Tasks', 'ns-tasks-section');
    this.tasksSection = tasks;
    this.taskList.className = 'ns-list ns-task-list';
    this.taskFromSentence = new TaskFromSentence(this.api, () => {
      this.pending.tasks = true;
      this.scheduleFlush();
    });
    tasks.append(this.taskList, this.taskFromSentence.node);

    // The selected node: tags and backlinks
    this.detailsSection = this.section('Selected', 'ns-details');
    this.detailsBody.className = 'ns-details-body';
    this.taggedList.className = 'ns-list ns-tagged-list';
    this.detailsSection.append(this.detailsBody);
    this.renderDetails(null, [], []);

    // Outline
    this.outlineSection = this.section('Outline', 'ns-outline');
    this.createInput.type = 'text';
    this.createInput.className = 'ns-input ns-create-input';
    this.createInput.placeholder = 'New note title…';
    this.createInput.setAttribute('aria-label', 'Title of a new note');
    this.createInput.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        void this.createNode();
      }
    });
    const create = h(
      'div',
      { className: 'ns-create' },
      this.createInput,
      button('Add', 'ns-create-button', 'Add a note at the top level', () => void this.createNode())
    );
    this.tree.className = 'ns-tree';
    this.tree.setAttribute('role', 'tree');
    this.tree.setAttribute('aria-label', 'Outline of the knowledge base');
    this.tree.addEventListener('click', event => this.onTreeClick(event));
    this.tree.addEventListener('dblclick', event => this.onTreeDoubleClick(event));
    this.tree.addEventListener('keydown', event => this.onTreeKey(event));
    this.tree.addEventListener('contextmenu', event => {
      // The context menu's commands act on the row under the pointer: select it.
      const row = (event.target as HTMLElement).closest<HTMLElement>('.ns-row');
      if (row?.dataset.id && !this.editing) {
        this.select(row.dataset.id);
      }
    });
    this.tree.addEventListener('dragstart', event => this.onDragStart(event));
    this.tree.addEventListener('dragover', event => this.onDragOver(event));
    this.tree.addEventListener('dragleave', event => {
      if (!this.tree.contains(event.relatedTarget as Node | null)) {
        this.clearDropMarks();
      }
    });
    this.tree.addEventListener('drop', event => this.onDrop(event));
    this.tree.addEventListener('dragend', () => this.endDrag());
    this.outlineSection.append(create, this.tree);
    this.renderOutline();
  }

  private readonly feed: ChangeFeed;
  private readonly _changed = new Signal<this, IChangeSet>(this);
  private readonly _selectionChanged = new Signal<this, string | null>(this);
  private readonly _kbChanged = new Signal<this, string | null>(this);
  private settings: ISidebarSettings = DEFAULT_SETTINGS;
  private started = false;
  private mode: Mode = 'connecting';
  private message = '';
  private _kbPath = '';
  private startedWith: string | null = null;
  /** The knowledge base the settings ask for; null until the settings are first applied. */
  private requestedKb: string | null = null;
  private switchToken = 0;
  private connectAttempt = 0;
  private retryTimer = 0;
  private flushTimer = 0;
  private searchTimer = 0;
  private undoTimer = 0;
  private detailsTimer = 0;
  private pending = new Pending();

  private searchToken = 0;
  private todayToken = 0;
  private tasksToken = 0;
  private detailsToken = 0;
  private taggedToken = 0;
  private childTokens = new Map<string, number>();

  /** Every node seen, by id (the newest copy). */
  private nodes = new Map<string, INode>();
  /** Loaded child lists, by parent id (ROOT: the top level). */
  private lists = new Map<string, INode[]>();
  private expanded = new Set<string>();
  /** Number of (visible) children, by node id, for rows whose children are not loaded. */
  private childCounts = new Map<string, number>();
  /** Moves are written one after the other; the outline reloads after the last. */
  private moves: Promise<void> = Promise.resolve();
  private movesInFlight = 0;
  private flushing = 0;
  /** The node being dragged in the outline. */
  private dragging: string | null = null;
  /** The outline changed during an edit or a drag: render it when that ends. */
  private renderLater = false;
  /** The node whose tags and backlinks are shown. */
  private detailsFor: string | null = null;
  /** The tag whose nodes are listed under the tags. */
  private tagShown: string | null = null;
  private selected: string | null = null;
  private editing: { id: string; input: HTMLInputElement } | null = null;
  private today: INode | null = null;
  private undoAction: (() => Promise<void>) | null = null;

  private readonly statusLine = h('div', { className: 'ns-status' });
  private readonly undoBar = h('div', { className: 'ns-undo', attrs: { role: 'alert' } });
  private readonly undoText = h('span', { className: 'ns-undo-text' });
  private readonly body = h('div', { className: 'ns-body' });
  private searchSection!: HTMLDetailsElement;
  private readonly searchInput = h('input');
  private readonly searchResults = h('ul');
  private readonly searchMode = h('select');
  private askSection!: HTMLDetailsElement;
  // Made in buildDom(): they need `api`, which field initialisers run before.
  private askPanel!: AskPanel;
  private taskFromSentence!: TaskFromSentence;
  private todayTitle!: HTMLElement;
  private readonly todayList = h('ul');
  private readonly todayInput = h('input');
  private readonly taskList = h('ul');
  private todaySection!: HTMLDetailsElement;
  private tasksSection!: HTMLDetailsElement;
  private detailsSection!: HTMLDetailsElement;
  private readonly detailsBody = h('div');
  private readonly taggedList = h('ul');
  private outlineSection!: HTMLDetailsElement;
  private readonly createInput = h('input');
  private readonly tree = h('ul');
}
