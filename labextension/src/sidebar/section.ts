/**
 * The base of the sidebar's parts: a Lumino widget on an element of the sidebar's
 * DOM (a `<details>` section, the undo bar...).
 */
import { Widget } from '@lumino/widgets';

import { INode } from '../api';
import { displayTitle, h } from '../dom';
import { SidebarContext } from './context';

/** A part of the sidebar on its own element. */
export class Part<T extends HTMLElement = HTMLElement> extends Widget {
  constructor(
    readonly ctx: SidebarContext,
    node: T
  ) {
    super({ node });
    // The parts' nodes keep exactly the classes they always had (the stylesheet and
    // the browser tests select on them); lm-Widget's `overflow: hidden` would also
    // change how the sections lay out in the scrolling sidebar.
    this.removeClass('lm-Widget');
  }

  declare readonly node: T;

  /** Forget what was shown (the knowledge base changed). */
  reset(): void {
    // Parts that keep state override this.
  }
}

/** A collapsible section of the sidebar: `<details class="ns-section ...">` with its title. */
export class Section extends Part<HTMLDetailsElement> {
  constructor(ctx: SidebarContext, title: string, className: string) {
    const summary = h('summary', { className: 'ns-section-title', text: title });
    const details = h('details', { className: `ns-section ${className}` }, summary);
    details.open = true;
    super(ctx, details);
    this.summary = summary;
  }

  readonly summary: HTMLElement;
}

/** A list item for a node: click (or Enter) opens it. */
export function nodeItem(ctx: SidebarContext, node: INode, className: string): HTMLLIElement {
  const item = h(
    'li',
    {
      className: `ns-entry ${className}`,
      attrs: { 'data-id': node.id, tabindex: '0', role: 'button' }
    },
    h('span', { className: 'ns-entry-title', text: displayTitle(node.title) }),
    node.kind !== 'text' ? h('span', { className: 'ns-kind', text: node.kind }) : null
  );
  ctx.opensOnActivate(item, node.id);
  return item;
}
