/**
 * The NodeSpace sidebar: status, search, today's journal, open tasks and the
 * outline of the knowledge base, kept up to date by the change feed.
 */
import { Widget } from '@lumino/widgets';

import {
  ApiError,
  ChangeFeed,
  IChangeSet,
  IHit,
  INode,
  IStatus,
  NodeSpaceApi
} from './api';
import { button, displayTitle, h, highlighted } from './dom';
import { nodespaceIcon } from './icon';

/** Key of the top level in the outline's child lists (node ids are never empty). */
const ROOT = '';
const SEARCH_DELAY_MS = 150;
/** Changes arriving this close together are applied in one refresh. */
const COALESCE_MS = 15;
const UNDO_VISIBLE_MS = 15000;
const TASK_LIMIT = 50;
const SEARCH_LIMIT = 20;
const WAITING = 'The NodeSpace service is starting or restarting';

type Mode = 'connecting' | 'unconfigured' | 'waiting' | 'ready' | 'error';

function parentKey(parentId: unknown): string {
  return typeof parentId === 'string' ? parentId : ROOT;
}

function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    return error.kind === 'HTTPError' || error.kind === 'NetworkError'
      ? error.message
      : `${error.kind}: ${error.message}`;
  }
  return String(error);
}

function isRestarting(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 503 || error.status === 0);
}

/** What a batch of changes asks to reload. */
class Pending {
  all = false;
  tasks = false;
  today = false;
  search = false;
  parents = new Set<string>();
}

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
      connected => this.onFeedState(connected)
    );
    this.buildDom();
  }

  readonly api: NodeSpaceApi;

  /** Focus the search field (command "NodeSpace: Search"). */
  focusSearch(text?: string): void {
    this.searchSection.open = true;
    if (text !== undefined) {
      this.searchInput.value = text;
      this.scheduleSearch();
    }
    this.searchInput.focus();
    this.searchInput.select();
  }

  /** Focus the new-note field (command "NodeSpace: New note"). */
  focusNewNote(): void {
    this.outlineSection.open = true;
    this.createInput.focus();
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
    let status: IStatus | null;
    try {
      status = await this.api.status();
    } catch (error) {
      this.setMode('error', `Cannot reach the Jupyter server: ${errorText(error)}`);
      this.retryLater(3000);
      return;
    }
    if (status === null) {
      this.setMode(
        'unconfigured',
        'No knowledge base: start JupyterLab with NODESPACE_KB=<folder> (`make lab` does).'
      );
      return;
    }
    this.kbPath = status.kb;
    if (!status.running) {
      this.setMode('waiting', this.waitingText(status.restarts));
      this.retryLater(1000);
      return;
    }
    try {
      const info = await this.api.info();
      this.pending.all = true;
      await this.flush(true);
      this.feed.start(info.seq);
      this.setMode('ready');
    } catch (error) {
      if (isRestarting(error)) {
        this.setMode('waiting', this.waitingText(status.restarts));
        this.retryLater(1000);
      } else {
        this.setMode('error', errorText(error));
        this.retryLater(5000);
      }
    }
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
      const name = this.kbPath.split(/[\\/]/).filter(Boolean).pop() ?? this.kbPath;
      line.appendChild(h('span', { className: 'ns-kb-name', text: name, title: this.kbPath }));
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
    } else if (error instanceof ApiError && error.kind === 'ConflictError') {
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
    const pending = this.pending;
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
    }
  }

  /** Apply what is pending: reload the affected lists (each keeps only its newest answer). */
  private async flush(strict = false): Promise<void> {
    window.clearTimeout(this.flushTimer);
    this.flushTimer = 0;
    const pending = this.pending;
    this.pending = new Pending();
    const work: Promise<void>[] = [];
    if (pending.all) {
      const parents = [ROOT, ...[...this.expanded].filter(id => this.lists.has(id))];
      work.push(...parents.map(key => this.loadChildren(key)));
      work.push(this.loadToday(), this.loadTasks(), this.runSearch());
    } else {
      for (const key of pending.parents) {
        if (key === ROOT || this.lists.has(key)) {
          work.push(this.loadChildren(key));
        }
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
    if (!text) {
      this.searchResults.replaceChildren();
      return;
    }
    let hits: IHit[];
    try {
      hits = (await this.api.call<IHit[]>('search', [text], { limit: SEARCH_LIMIT })).result;
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
      const open = () => void this.reveal(hit.id);
      item.addEventListener('click', open);
      item.addEventListener('keydown', event => {
        if (event.key === 'Enter') {
          open();
        }
      });
      list.appendChild(item);
    }
  }

  // -- today ------------------------------------------------------------------

  private async loadToday(): Promise<void> {
    const token = ++this.todayToken;
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
      item.addEventListener('click', () => void this.reveal(entry.id));
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
    const tasks = (await this.api.call<INode[]>('open_tasks', [], { limit: TASK_LIMIT })).result;
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
      title.addEventListener('click', () => void this.reveal(task.id));
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
    const answer = await this.api.call<INode[]>('children', [key === ROOT ? null : key]);
    if (this.childTokens.get(key) !== token) {
      return;
    }
    this.remember(answer.result);
    this.lists.set(key, answer.result);
    this.renderOutline();
  }

  private renderOutline(): void {
    if (this.editing) {
      return; // rendered when the edit ends
    }
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
    const leaf = kids !== undefined && kids.length === 0;
    const item = h('li', {
      className: 'ns-item',
      attrs: { role: 'treeitem', 'data-id': node.id, 'aria-level': String(level) }
    });
    if (!leaf) {
      item.setAttribute('aria-expanded', String(expanded));
    }
    const row = h('div', {
      className: `ns-row${this.selected === node.id ? ' ns-selected' : ''}`,
      attrs: { tabindex: '-1', 'data-id': node.id }
    });
    row.style.paddingLeft = `${(level - 1) * 14 + 2}px`;
    const toggle = h('span', {
      className: `ns-toggle${leaf ? ' ns-leaf' : ''}`,
      text: leaf ? '•' : expanded ? '▾' : '▸',
      title: leaf ? '' : expanded ? 'Collapse' : 'Expand'
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
        title: 'Double-click or Enter to rename; Tab / Shift-Tab to indent / outdent'
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

  private select(id: string, focus = true): void {
    this.selected = id;
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

  /** Show a node in the outline: expand its ancestors, select it and focus it. */
  private async reveal(id: string): Promise<void> {
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
    this.select(id);
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
    input.addEventListener('keydown', event => {
      event.stopPropagation();
      if (event.key === 'Enter') {
        event.preventDefault();
        void finish(true);
      } else if (event.key === 'Escape') {
        event.preventDefault();
        void finish(false);
      }
    });
    input.addEventListener('blur', () => void finish(true));
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

  private async move(
    node: INode,
    parent: string | null,
    index: number | null,
    affected: string[]
  ): Promise<void> {
    try {
      const answer = await this.api.call<INode>('move', [node.id, parent, index]);
      this.remember([answer.result]); // keys pressed before the reload see the new parent
      this.clearMessage();
    } catch (error) {
      this.report(error);
      return;
    }
    if (parent !== null) {
      this.expanded.add(parent);
    }
    this.selected = node.id;
    for (const key of affected) {
      this.pending.parents.add(key);
    }
    await this.flush();
    if (parent !== null && !this.lists.has(parent)) {
      await this.loadChildren(parent);
    }
    this.select(node.id);
  }

  private async deleteNode(id: string): Promise<void> {
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

  // -- DOM --------------------------------------------------------------------

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
    this.searchSection.append(this.searchInput, this.searchResults);

    // Today
    const today = this.section('Today', 'ns-today');
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
    this.taskList.className = 'ns-list ns-task-list';
    tasks.append(this.taskList);

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
    this.outlineSection.append(create, this.tree);
    this.renderOutline();
  }

  private readonly feed: ChangeFeed;
  private started = false;
  private mode: Mode = 'connecting';
  private message = '';
  private kbPath = '';
  private retryTimer = 0;
  private flushTimer = 0;
  private searchTimer = 0;
  private undoTimer = 0;
  private pending = new Pending();

  private searchToken = 0;
  private todayToken = 0;
  private tasksToken = 0;
  private childTokens = new Map<string, number>();

  /** Every node seen, by id (the newest copy). */
  private nodes = new Map<string, INode>();
  /** Loaded child lists, by parent id (ROOT: the top level). */
  private lists = new Map<string, INode[]>();
  private expanded = new Set<string>();
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
  private todayTitle!: HTMLElement;
  private readonly todayList = h('ul');
  private readonly todayInput = h('input');
  private readonly taskList = h('ul');
  private outlineSection!: HTMLDetailsElement;
  private readonly createInput = h('input');
  private readonly tree = h('ul');
}
