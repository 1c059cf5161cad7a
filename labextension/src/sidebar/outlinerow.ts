/** The outline's rows: one tree item per node, its children under it when expanded. */
import { INode } from '../api';
import { button, displayTitle, h } from '../dom';

const ROW_TITLE =
  'Click to open; double-click or Enter to rename; Tab / Shift-Tab to indent / ' +
  'outdent; Alt+Up / Alt+Down or drag to move; right-click for more';

/** What rendering a row needs to know about the outline, and what its controls do. */
export interface IRowSource {
  readonly lists: ReadonlyMap<string, INode[]>;
  readonly expanded: ReadonlySet<string>;
  readonly childCounts: ReadonlyMap<string, number>;
  readonly selected: string | null;
  setDone(node: INode, box: HTMLInputElement): void;
  remove(id: string): void;
}

/** Pixels of indentation per level of the tree. */
export function indentOf(level: number): string {
  return `${(level - 1) * 14 + 2}px`;
}

/** The tree item of `node` at `level` (1: the top), with its loaded children. */
export function renderItem(source: IRowSource, node: INode, level: number): HTMLLIElement {
  const kids = source.lists.get(node.id);
  const expanded = source.expanded.has(node.id);
  const count = kids?.length ?? source.childCounts.get(node.id);
  const leaf = count === 0;
  const item = h('li', {
    className: 'ns-item',
    attrs: { role: 'treeitem', 'data-id': node.id, 'aria-level': String(level) }
  });
  if (!leaf) {
    item.setAttribute('aria-expanded', String(expanded));
  }
  item.appendChild(renderRow(source, node, level, leaf, expanded, count));
  if (expanded && !leaf) {
    const group = h('ul', { className: 'ns-group', attrs: { role: 'group' } });
    if (kids === undefined) {
      group.appendChild(h('li', { className: 'ns-empty', text: 'Loading…' }));
    } else {
      for (const kid of kids) {
        group.appendChild(renderItem(source, kid, level + 1));
      }
    }
    item.appendChild(group);
  }
  return item;
}

function renderRow(
  source: IRowSource,
  node: INode,
  level: number,
  leaf: boolean,
  expanded: boolean,
  count: number | undefined
): HTMLDivElement {
  const row = h('div', {
    className: `ns-row${source.selected === node.id ? ' ns-selected' : ''}`,
    attrs: { tabindex: '-1', 'data-id': node.id, draggable: 'true' }
  });
  row.style.paddingLeft = indentOf(level);
  row.appendChild(
    h('span', {
      className: `ns-toggle${leaf ? ' ns-leaf' : ''}`,
      text: leaf ? '•' : expanded ? '▾' : '▸',
      title: leaf ? '' : `${expanded ? 'Collapse' : 'Expand'}${count ? ` (${count} below)` : ''}`
    })
  );
  const mark = kindMark(source, node);
  if (mark) {
    row.appendChild(mark);
  }
  row.appendChild(
    h('span', {
      className: `ns-title${node.kind === 'task' && node.task_status === 'done' ? ' ns-done' : ''}`,
      text: displayTitle(node.title),
      title: ROW_TITLE
    })
  );
  row.appendChild(
    button('×', 'ns-delete', `Delete “${displayTitle(node.title)}”`, event => {
      event.stopPropagation();
      source.remove(node.id);
    })
  );
  return row;
}

/** A task's done box, or the kind of any other node that is not plain text. */
function kindMark(source: IRowSource, node: INode): HTMLElement | null {
  if (node.kind === 'task') {
    const box = h('input', {
      className: 'ns-row-check',
      attrs: { type: 'checkbox', tabindex: '-1', 'aria-label': `Done: ${node.title}` }
    });
    box.checked = node.task_status === 'done';
    box.addEventListener('change', () => source.setDone(node, box));
    return box;
  }
  return node.kind !== 'text' ? h('span', { className: 'ns-kind', text: node.kind }) : null;
}
