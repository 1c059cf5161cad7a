/** Drag and drop in the outline: a row goes before, after or inside (last child of) another. */
import { displayTitle } from '../dom';
import { parentKey } from './bus';
import type { OutlineSection } from './outline';

/** Type of the outline's drag data (a node id). */
const DRAG_TYPE = 'application/x-nodespace-node';

/** Where a dragged node would go: before or after a row, or inside it (as its last child). */
type DropZone = 'before' | 'after' | 'inside';

interface IDropTarget {
  row: HTMLElement;
  zone: DropZone;
}

export class OutlineDrag {
  constructor(private readonly outline: OutlineSection) {}

  /** The node being dragged, if any (the outline renders when the drag ends). */
  get dragging(): string | null {
    return this._dragging;
  }

  /** Follow the drag events of `tree`. */
  listen(tree: HTMLElement): void {
    tree.addEventListener('dragstart', event => this.onDragStart(event));
    tree.addEventListener('dragover', event => this.onDragOver(event));
    tree.addEventListener('dragleave', event => {
      if (!tree.contains(event.relatedTarget as Node | null)) {
        this.clearDropMarks();
      }
    });
    tree.addEventListener('drop', event => this.onDrop(event));
    tree.addEventListener('dragend', () => this.endDrag());
  }

  private onDragStart(event: DragEvent): void {
    const row = (event.target as HTMLElement).closest?.<HTMLElement>('.ns-row');
    const id = row?.dataset.id;
    if (!row || !id || this.outline.edits.active || !event.dataTransfer) {
      return;
    }
    this._dragging = id;
    event.dataTransfer.effectAllowed = 'move';
    event.dataTransfer.setData(DRAG_TYPE, id);
    const title = this.outline.ctx.nodes.get(id)?.title ?? id;
    event.dataTransfer.setData('text/plain', displayTitle(title));
    row.classList.add('ns-dragging');
  }

  /** The row under the pointer and where in it a drop would go, if it may go there. */
  private dropTarget(event: DragEvent): IDropTarget | null {
    const dragged = this._dragging;
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
    const dragged = this._dragging;
    this.endDrag();
    if (!target || !dragged) {
      return;
    }
    event.preventDefault();
    this.drop(dragged, target);
  }

  /** Move `dragged` to `target`, unless it is dropped where it already is. */
  private drop(dragged: string, target: IDropTarget): void {
    const { ctx, lists, moves } = this.outline;
    const node = ctx.nodes.get(dragged);
    const onto = ctx.nodes.get(target.row.dataset.id!);
    if (!node || !onto) {
      return;
    }
    const from = parentKey(node.parent_id);
    if (target.zone === 'inside') {
      void moves.move(node, onto.id, null, [from, onto.id]);
      return;
    }
    const key = parentKey(onto.parent_id);
    const all = lists.get(key) ?? [];
    const siblings = all.filter(n => n.id !== node.id);
    const at = siblings.findIndex(n => n.id === onto.id);
    const index = at < 0 ? null : target.zone === 'before' ? at : at + 1;
    if (key === from && index === all.findIndex(n => n.id === node.id)) {
      return; // dropped where it already is
    }
    void moves.move(node, onto.parent_id ?? null, index, [from, key]);
  }

  private endDrag(): void {
    this._dragging = null;
    this.clearDropMarks();
    this.outline.tree.querySelector('.ns-dragging')?.classList.remove('ns-dragging');
    if (this.outline.renderLater) {
      this.outline.render();
    }
  }

  private clearDropMarks(): void {
    for (const marked of this.outline.tree.querySelectorAll(
      '.ns-drop-before, .ns-drop-after, .ns-drop-inside'
    )) {
      marked.classList.remove('ns-drop-before', 'ns-drop-after', 'ns-drop-inside');
    }
  }

  private _dragging: string | null = null;
}
