/**
 * Moving nodes in the outline: shown at once (keys pressed next see the new order),
 * written in order (one move at a time), and the outline reloaded after the last.
 */
import { INode } from '../api';
import { parentKey } from './bus';
import type { OutlineSection } from './outline';

export class OutlineMoves {
  constructor(private readonly outline: OutlineSection) {}

  /** Moves written or waiting to be (their reloads wait for the last). */
  get inFlight(): number {
    return this._inFlight;
  }

  /** Move a node under its previous sibling (as its last child); false if it has none. */
  indent(id: string): boolean {
    const node = this.outline.ctx.nodes.get(id);
    const siblings = node ? this.outline.lists.get(parentKey(node.parent_id)) : undefined;
    const index = siblings?.findIndex(n => n.id === id) ?? -1;
    if (!node || !siblings || index <= 0) {
      return false; // the first child has nothing to go under
    }
    const parent = siblings[index - 1];
    void this.move(node, parent.id, null, [parentKey(node.parent_id), parent.id]);
    return true;
  }

  /** Move a node out of its parent, right after it; false at the top level. */
  outdent(id: string): boolean {
    const nodes = this.outline.ctx.nodes;
    const node = nodes.get(id);
    const parent = node?.parent_id ? nodes.get(node.parent_id) : undefined;
    if (!node || !parent) {
      return false;
    }
    const grand = parentKey(parent.parent_id);
    const uncles = this.outline.lists.get(grand) ?? [];
    const index = uncles.findIndex(n => n.id === parent.id);
    void this.move(node, parent.parent_id, index < 0 ? null : index + 1, [grand, parent.id]);
    return true;
  }

  /** Move a node one place up (-1) or down (+1) among its siblings. */
  amongSiblings(id: string, step: -1 | 1): void {
    const node = this.outline.ctx.nodes.get(id);
    const key = parentKey(node?.parent_id);
    const siblings = this.outline.lists.get(key);
    const index = siblings?.findIndex(n => n.id === id) ?? -1;
    const to = index + step;
    if (!node || !siblings || index < 0 || to < 0 || to >= siblings.length) {
      return;
    }
    void this.move(node, node.parent_id ?? null, to, [key]);
  }

  /** Move `node` under `parent` at `index` (null: last); `affected`: lists to reload. */
  move(
    node: INode,
    parent: string | null,
    index: number | null,
    affected: string[]
  ): Promise<void> {
    this.moveLocally(node, parent, index);
    this._inFlight++;
    this.outline.updateBusy();
    const run = () => this.write(node, parent, index, affected);
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  private async write(
    node: INode,
    parent: string | null,
    index: number | null,
    affected: string[]
  ): Promise<void> {
    const { ctx } = this.outline;
    try {
      const answer = await ctx.api.call<INode>('move', [node.id, parent, index]);
      ctx.remember([answer.result]);
      ctx.clearMessage();
    } catch (error) {
      ctx.report(error);
    } finally {
      this._inFlight--;
      this.outline.updateBusy();
    }
    for (const key of affected) {
      ctx.bus.pending.parents.add(key);
    }
    if (this._inFlight > 0) {
      return; // the last move reloads
    }
    await ctx.bus.flush();
    if (parent !== null && !this.outline.lists.has(parent)) {
      await this.outline.loadChildren(parent);
    }
    if (this.outline.rowOf(node.id)) {
      this.outline.select(node.id);
    }
  }

  /** The outline as it will be after a move (the reload afterwards confirms it). */
  private moveLocally(node: INode, parent: string | null, index: number | null): void {
    const outline = this.outline;
    const lists = outline.lists;
    const from = parentKey(node.parent_id);
    const moved: INode = { ...node, parent_id: parent };
    const source = lists.get(from);
    if (source) {
      lists.set(from, source.filter(n => n.id !== node.id));
    }
    const target = lists.get(parentKey(parent));
    if (target) {
      const list = target.filter(n => n.id !== node.id);
      list.splice(index === null ? list.length : Math.min(index, list.length), 0, moved);
      lists.set(parentKey(parent), list);
    } else if (parent !== null) {
      outline.childCounts.set(parent, (outline.childCounts.get(parent) ?? 0) + 1);
    }
    outline.ctx.nodes.set(node.id, moved);
    if (parent !== null) {
      outline.expanded.add(parent);
    }
    outline.selected = node.id;
    outline.render();
    if (outline.rowOf(node.id)) {
      outline.select(node.id);
    }
  }

  private queue: Promise<void> = Promise.resolve();
  private _inFlight = 0;
}
