/** The outline's keyboard: arrows move the selection, Tab indents, Alt+arrows move. */
import type { OutlineSection } from './outline';

/** Handle a key pressed on a row of the outline. */
export function onTreeKey(outline: OutlineSection, event: KeyboardEvent): void {
  const target = event.target as HTMLElement;
  const id = target.dataset.id;
  if (!target.classList.contains('ns-row') || !id) {
    return;
  }
  if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
    outline.moves.amongSiblings(id, event.key === 'ArrowUp' ? -1 : 1);
    event.preventDefault();
    event.stopPropagation();
    return;
  }
  if (handleKey(outline, event, target, id)) {
    event.preventDefault();
    event.stopPropagation();
  }
}

/** Act on the key; false when it is not the outline's (it then does what it usually does). */
function handleKey(
  outline: OutlineSection,
  event: KeyboardEvent,
  target: HTMLElement,
  id: string
): boolean {
  switch (event.key) {
    case 'Enter':
    case 'F2':
      outline.edits.startEdit(id);
      return true;
    case 'Tab':
      // Where a node cannot move, Tab moves the focus as usual (no keyboard trap).
      return event.shiftKey ? outline.moves.outdent(id) : outline.moves.indent(id);
    case 'Delete':
      void outline.deleteNode(id);
      return true;
    case 'ArrowDown':
    case 'ArrowUp':
      selectNext(outline, target, event.key === 'ArrowUp' ? -1 : 1);
      return true;
    case 'ArrowRight':
      void outline.toggle(id, true).then(() => outline.select(id));
      return true;
    case 'ArrowLeft':
      collapseOrUp(outline, id);
      return true;
    default:
      return false;
  }
}

/** Select the row above (-1) or below (+1) `row`, if there is one. */
function selectNext(outline: OutlineSection, row: HTMLElement, step: -1 | 1): void {
  const rows = outline.rows();
  const next = rows[rows.indexOf(row) + step];
  if (next) {
    outline.select(next.dataset.id!);
  }
}

/** Left: collapse an expanded node, else go to its parent. */
function collapseOrUp(outline: OutlineSection, id: string): void {
  const node = outline.ctx.nodes.get(id);
  if (outline.expanded.has(id)) {
    void outline.toggle(id, false).then(() => outline.select(id));
  } else if (node?.parent_id && outline.rowOf(node.parent_id)) {
    outline.select(node.parent_id);
  }
}
