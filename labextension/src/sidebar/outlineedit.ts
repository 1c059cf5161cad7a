/** Titles edited in the outline: rename in place, a new child, a new top-level note. */
import { INode } from '../api';
import { h } from '../dom';
import { parentKey, ROOT } from './bus';
import type { OutlineSection } from './outline';
import { indentOf } from './outlinerow';
import { bindTitleField } from './titlefield';

export class OutlineEdits {
  constructor(private readonly outline: OutlineSection) {}

  /** A title field is open (the outline renders when it closes). */
  get active(): boolean {
    return this.editing !== null;
  }

  /** Drop an unfinished edit (the knowledge base changed). */
  cancel(): void {
    this.editing = null;
  }

  /** Rename `id` in its row: Enter keeps the title, Escape drops it. */
  startEdit(id: string): void {
    const outline = this.outline;
    const node = outline.ctx.nodes.get(id);
    const row = outline.rowOf(id);
    const label = row?.querySelector<HTMLElement>('.ns-title');
    if (!node || !row || !label || this.editing) {
      return;
    }
    outline.select(id, false);
    const input = h('input', {
      className: 'ns-title-input',
      attrs: { type: 'text', 'aria-label': 'Title' }
    });
    input.value = node.title;
    label.replaceWith(input);
    this.editing = input;
    input.focus();
    input.select();
    const finish = (commit: boolean) => {
      if (this.editing === input) {
        this.editing = null;
        void this.finishRename(node, commit ? input.value : node.title);
      }
    };
    bindTitleField(input, () => this.editing === input, finish);
    input.addEventListener('click', event => event.stopPropagation());
    input.addEventListener('dblclick', event => event.stopPropagation());
  }

  /** Add a child to a node: an empty row under it takes the title (Enter adds, Escape cancels). */
  async newChild(id: string): Promise<void> {
    const outline = this.outline;
    if (this.editing) {
      return;
    }
    await outline.reveal(id, false);
    outline.expanded.add(id);
    if (!outline.lists.has(id)) {
      try {
        await outline.loadChildren(id);
      } catch (error) {
        outline.ctx.report(error);
        return;
      }
    }
    outline.render();
    const item = outline.itemOf(id);
    if (!item || !outline.rowOf(id) || this.editing) {
      return;
    }
    const input = this.draftRow(item);
    this.editing = input;
    input.focus();
    const finish = (commit: boolean) => {
      if (this.editing === input) {
        this.editing = null;
        void this.finishChild(id, commit ? input.value.trim() : '');
      }
    };
    bindTitleField(input, () => this.editing === input, finish);
  }

  /** Add a note at the top level with the title in the create field. */
  async createNode(): Promise<void> {
    const outline = this.outline;
    const field = outline.createInput;
    const title = field.value.trim();
    if (!title) {
      field.focus();
      return;
    }
    try {
      const node = (await outline.ctx.api.call<INode>('create', ['text', title])).result;
      field.value = '';
      outline.ctx.remember([node]);
      outline.selected = node.id;
      outline.ctx.clearMessage();
    } catch (error) {
      outline.ctx.report(error);
    }
    outline.ctx.bus.pending.parents.add(ROOT);
    await outline.ctx.bus.flush();
    if (outline.selected) {
      outline.select(outline.selected, false);
      outline.rowOf(outline.selected)?.scrollIntoView({ block: 'nearest' });
    }
  }

  /** The rename's title is shown at once; the reload after the write confirms it. */
  private async finishRename(node: INode, title: string): Promise<void> {
    const outline = this.outline;
    const changed = title !== node.title;
    if (changed) {
      this.showTitle(node, title);
    }
    outline.render();
    outline.select(node.id);
    if (!changed) {
      return;
    }
    try {
      const answer = await outline.ctx.api.call<INode>('update', [node.id], {
        expected_version: node.version,
        title
      });
      outline.ctx.remember([answer.result]); // its new version, for the next edit
      outline.ctx.clearMessage();
    } catch (error) {
      outline.ctx.report(error); // a conflict reloads
    }
    const pending = outline.ctx.bus.pending;
    pending.parents.add(parentKey(node.parent_id));
    pending.search = true;
    pending.tasks = node.kind === 'task';
    outline.ctx.bus.schedule();
  }

  private showTitle(node: INode, title: string): void {
    const outline = this.outline;
    outline.ctx.nodes.set(node.id, { ...node, title });
    const siblings = outline.lists.get(parentKey(node.parent_id));
    const index = siblings?.findIndex(n => n.id === node.id) ?? -1;
    if (siblings && index >= 0) {
      siblings[index] = { ...node, title };
    }
  }

  /** An empty row at the end of `item`'s children, with the field for the new title. */
  private draftRow(item: HTMLElement): HTMLInputElement {
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
    row.style.paddingLeft = indentOf(level);
    group.appendChild(h('li', { className: 'ns-item', attrs: { role: 'treeitem' } }, row));
    return input;
  }

  /** The new child's title was entered (or dropped: empty). */
  private async finishChild(parent: string, title: string): Promise<void> {
    const outline = this.outline;
    if (!title) {
      outline.render();
      outline.select(parent);
      return;
    }
    try {
      const created = await outline.ctx.api.call<INode>('create', ['text', title], { parent });
      outline.ctx.remember([created.result]);
      outline.selected = created.result.id;
      outline.ctx.clearMessage();
    } catch (error) {
      outline.ctx.report(error);
    }
    const pending = outline.ctx.bus.pending;
    pending.parents.add(parent);
    pending.parents.add(parentKey(outline.ctx.nodes.get(parent)?.parent_id));
    await outline.ctx.bus.flush();
    if (outline.selected) {
      outline.select(outline.selected);
    }
  }

  private editing: HTMLInputElement | null = null;
}
