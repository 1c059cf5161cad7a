/**
 * The Outline section: a field for a new top-level note and the tree of the
 * knowledge base (keyboard in outlinekeys.ts, moves in outlinemoves.ts, drag and
 * drop in outlinedrag.ts, title edits in outlineedit.ts, deletes in outlinedelete.ts).
 */
import { ISignal, Signal } from '@lumino/signaling';

import { INode } from '../api';
import { button, h } from '../dom';
import { IBusPart, parentKey, Pending, ROOT } from './bus';
import { SidebarContext } from './context';
import { deleteWithUndo } from './outlinedelete';
import { OutlineDrag } from './outlinedrag';
import { OutlineEdits } from './outlineedit';
import { onTreeKey } from './outlinekeys';
import { OutlineMoves } from './outlinemoves';
import { IRowSource, renderItem } from './outlinerow';
import { Section } from './section';
import { setDone } from './tasks';
import { UndoBar } from './undo';

export class OutlineSection extends Section implements IBusPart, IRowSource {
  constructor(
    ctx: SidebarContext,
    private readonly undo: UndoBar
  ) {
    super(ctx, 'Outline', 'ns-outline');
    this.moves = new OutlineMoves(this);
    this.edits = new OutlineEdits(this);
    this.drag = new OutlineDrag(this);
    this.buildCreate();
    this.buildTree();
    ctx.bus.busyChanged.connect(() => this.updateBusy());
    this.render();
  }

  /** The selected node of the outline changed (null: none). */
  get selectionChanged(): ISignal<this, string | null> {
    return this._selectionChanged;
  }

  /** Loaded child lists, by parent id (ROOT: the top level). */
  readonly lists = new Map<string, INode[]>();
  readonly expanded = new Set<string>();
  /** Number of (visible) children, by node id, for rows whose children are not loaded. */
  readonly childCounts = new Map<string, number>();
  readonly tree = h('ul');
  readonly createInput = h('input');
  selected: string | null = null;
  /** The outline changed during an edit or a drag: render it when that ends. */
  renderLater = false;
  readonly moves: OutlineMoves;
  readonly edits: OutlineEdits;
  readonly drag: OutlineDrag;

  /** Called with the selected node when the selection changes (the details follow it). */
  onSelect: (id: string) => void = () => undefined;

  reload(pending: Pending): Promise<void>[] {
    return [...this.keysToReload(pending)].map(key => this.loadChildren(key));
  }

  reset(): void {
    this.edits.cancel(); // an unfinished title edit belongs to the old knowledge base
    this.lists.clear();
    this.expanded.clear();
    this.childCounts.clear();
    for (const [key, token] of this.childTokens) {
      this.childTokens.set(key, token + 1); // answers still in flight are dropped
    }
    if (this.selected !== null) {
      this.selected = null;
      this._selectionChanged.emit(null);
    }
    this.render();
  }

  /** `aria-busy` on the tree while reloads or moves are under way (or about to start). */
  updateBusy(): void {
    const busy = this.ctx.bus.busy || this.moves.inFlight > 0;
    this.tree.setAttribute('aria-busy', String(busy));
  }

  async loadChildren(key: string): Promise<void> {
    const token = (this.childTokens.get(key) ?? 0) + 1;
    this.childTokens.set(key, token);
    const parent = key === ROOT ? null : key;
    const [kids, counts] = await Promise.all([
      this.ctx.api.call<INode[]>('children', [parent]),
      this.ctx.api.call<Record<string, number>>('child_counts', [parent])
    ]);
    if (this.childTokens.get(key) !== token) {
      return;
    }
    if (this.moves.inFlight > 0) {
      this.ctx.bus.pending.parents.add(key); // may predate a move under way: reloaded after it
      return;
    }
    const before = this.signature(this.lists.get(key));
    this.ctx.remember(kids.result);
    this.lists.set(key, kids.result);
    for (const [id, count] of Object.entries(counts.result)) {
      this.childCounts.set(id, count);
    }
    if (this.signature(kids.result) !== before || this.renderLater) {
      this.render(); // unchanged lists keep their rows (and a drag or the focus)
    }
  }

  render(): void {
    if (this.edits.active || this.drag.dragging) {
      this.renderLater = true;
      return; // rendered when the edit or the drag ends
    }
    this.renderLater = false;
    const hadFocus = this.tree.contains(document.activeElement);
    this.tree.replaceChildren(...this.topItems());
    if (!this.lists.has(ROOT)) {
      return;
    }
    if (this.selected && !this.rowOf(this.selected)) {
      this.selected = null;
    }
    const current = this.selected ? this.rowOf(this.selected) : this.rows()[0];
    current?.setAttribute('tabindex', '0');
    if (hadFocus && current) {
      current.focus();
    }
  }

  rows(): HTMLElement[] {
    return Array.from(this.tree.querySelectorAll<HTMLElement>('.ns-row'));
  }

  rowOf(id: string): HTMLElement | null {
    return this.rows().find(row => row.dataset.id === id) ?? null;
  }

  itemOf(id: string): HTMLElement | null {
    return this.rowOf(id)?.parentElement ?? null;
  }

  select(id: string, focus = true): void {
    if (this.edits.active) {
      // A title being edited keeps the selection and the focus: work that finishes
      // meanwhile (a reload, a create) must not blur it, which would end the edit.
      return;
    }
    const changed = this.selected !== id;
    this.selected = id;
    this.onSelect(id);
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

  async toggle(id: string, open?: boolean): Promise<void> {
    const expand = open ?? !this.expanded.has(id);
    if (expand) {
      this.expanded.add(id);
    } else {
      this.expanded.delete(id);
    }
    this.render();
    if (expand && !this.lists.has(id)) {
      try {
        await this.loadChildren(id);
      } catch (error) {
        this.ctx.report(error);
      }
    }
  }

  /** Show a node in the outline: expand its ancestors and select it (and focus it). */
  async reveal(id: string, focus = true): Promise<void> {
    try {
      const chain = (await this.ctx.api.call<INode[]>('ancestors', [id])).result.reverse();
      this.ctx.remember(chain);
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
      this.ctx.report(error);
      return;
    }
    this.node.open = true;
    this.selected = id;
    this.render();
    this.select(id, focus);
  }

  setDone(node: INode, box: HTMLInputElement): void {
    void setDone(this.ctx, node, box);
  }

  remove(id: string): void {
    void this.deleteNode(id);
  }

  /** Delete a node (and what is below it), with Undo in the sidebar. */
  deleteNode(id: string): Promise<void> {
    return deleteWithUndo(this, this.undo, id);
  }

  /** The child lists to reload for `pending`. */
  private keysToReload(pending: Pending): Set<string> {
    if (pending.all) {
      return new Set([ROOT, ...[...this.expanded].filter(id => this.lists.has(id))]);
    }
    const reload = new Set<string>();
    for (const key of pending.parents) {
      if (key === ROOT || this.lists.has(key)) {
        reload.add(key);
      } else if (this.ctx.nodes.has(key)) {
        // Children of a node not loaded: its expand arrow comes from its parent's counts.
        const above = parentKey(this.ctx.nodes.get(key)!.parent_id);
        if (above === ROOT || this.lists.has(above)) {
          reload.add(above);
        }
      }
    }
    return reload;
  }

  /** A list's rows as they render: a changed signature means render again. */
  private signature(nodes: INode[] | undefined): string | undefined {
    const count = (id: string) => this.childCounts.get(id) ?? '';
    return nodes?.map(n => `${n.id}:${n.version}:${count(n.id)}`).join(' ');
  }

  private topItems(): HTMLLIElement[] {
    const top = this.lists.get(ROOT);
    if (top === undefined) {
      return [h('li', { className: 'ns-empty', text: 'Loading…' })];
    }
    if (top.length === 0) {
      return [h('li', { className: 'ns-empty', text: 'Nothing here yet: add a note above.' })];
    }
    return top.map(node => renderItem(this, node, 1));
  }

  private buildCreate(): void {
    const input = this.createInput;
    input.type = 'text';
    input.className = 'ns-input ns-create-input';
    input.placeholder = 'New note title…';
    input.setAttribute('aria-label', 'Title of a new note');
    input.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        void this.edits.createNode();
      }
    });
    const add = button(
      'Add',
      'ns-create-button',
      'Add a note at the top level',
      () => void this.edits.createNode()
    );
    this.node.append(h('div', { className: 'ns-create' }, input, add));
  }

  private buildTree(): void {
    const tree = this.tree;
    tree.className = 'ns-tree';
    tree.setAttribute('role', 'tree');
    tree.setAttribute('aria-label', 'Outline of the knowledge base');
    tree.addEventListener('click', event => this.onClick(event));
    tree.addEventListener('dblclick', event => this.onDoubleClick(event));
    tree.addEventListener('keydown', event => onTreeKey(this, event));
    tree.addEventListener('contextmenu', event => {
      // The context menu's commands act on the row under the pointer: select it.
      const row = (event.target as HTMLElement).closest<HTMLElement>('.ns-row');
      if (row?.dataset.id && !this.edits.active) {
        this.select(row.dataset.id);
      }
    });
    this.drag.listen(tree);
    this.node.append(tree);
  }

  private onClick(event: MouseEvent): void {
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
      this.ctx.openNode(row.dataset.id, false); // the focus stays here: double-click renames
    }
  }

  private onDoubleClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const row = target.closest<HTMLElement>('.ns-row');
    if (row?.dataset.id && target.classList.contains('ns-title')) {
      this.edits.startEdit(row.dataset.id);
    }
  }

  private readonly _selectionChanged = new Signal<this, string | null>(this);
  private readonly childTokens = new Map<string, number>();
}

