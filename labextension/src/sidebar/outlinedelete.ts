/** Deleting from the outline: the node goes, Undo in the bar brings it back. */
import { INode } from '../api';
import { displayTitle } from '../dom';
import { parentKey } from './bus';
import type { OutlineSection } from './outline';
import { UndoBar } from './undo';

/** Delete a node (and what is below it) and offer Undo; the selection goes to a neighbour. */
export async function deleteWithUndo(
  outline: OutlineSection,
  undo: UndoBar,
  id: string
): Promise<void> {
  const node = outline.ctx.nodes.get(id);
  if (!node) {
    return;
  }
  const rows = outline.rows();
  const at = rows.findIndex(row => row.dataset.id === id);
  const neighbour = rows[at + 1]?.dataset.id ?? rows[at - 1]?.dataset.id ?? null;
  let answer;
  try {
    answer = await outline.ctx.api.call<string[]>('delete', [id]);
    outline.ctx.clearMessage();
  } catch (error) {
    outline.ctx.report(error);
    return;
  }
  offerUndo(outline, undo, node, answer.result.length - 1, answer.seq);
  outline.selected = neighbour && neighbour !== id ? neighbour : null;
  const pending = outline.ctx.bus.pending;
  pending.parents.add(parentKey(node.parent_id));
  pending.tasks = true;
  pending.search = true;
  await outline.ctx.bus.flush();
  if (outline.selected) {
    outline.select(outline.selected);
  }
}

/** Undo of a delete of `node` (and `more` below it) written at `deletedAt`. */
function offerUndo(
  outline: OutlineSection,
  undo: UndoBar,
  node: INode,
  more: number,
  deletedAt: number
): void {
  const what = `Deleted “${displayTitle(node.title)}”${more > 0 ? ` and ${more} below it` : ''}.`;
  undo.offer(what, async () => {
    // Undo reverts the newest change set: only when that is still this delete.
    // After other writes, restoring the node brings back exactly what was deleted.
    const api = outline.ctx.api;
    const newest = (await api.call<number>('seq')).result;
    if (newest === deletedAt) {
      await api.call('undo');
    } else {
      await api.call('restore', [node.id]);
    }
    outline.selected = node.id;
    const pending = outline.ctx.bus.pending;
    pending.parents.add(parentKey(node.parent_id));
    pending.tasks = true;
    pending.today = true;
    await outline.ctx.bus.flush();
    if (outline.rowOf(node.id)) {
      outline.select(node.id);
    }
  });
}
