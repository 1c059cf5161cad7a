/** The Selected section: the selected node's tags (each lists its nodes) and backlinks. */
import { ApiError, INode } from '../api';
import { button, displayTitle, h } from '../dom';
import { IBusPart, Pending } from './bus';
import { SidebarContext } from './context';
import { nodeItem, Section } from './section';

const DETAILS_DELAY_MS = 80;

export class DetailsSection extends Section implements IBusPart {
  /** `selected`: the node selected in the outline. */
  constructor(
    ctx: SidebarContext,
    private readonly selected: () => string | null
  ) {
    super(ctx, 'Selected', 'ns-details');
    this.body.className = 'ns-details-body';
    this.taggedList.className = 'ns-list ns-tagged-list';
    this.node.append(this.body);
    this.render(null, [], []);
  }

  /** The selection changed: show its details soon (a quick run of arrow keys loads once). */
  follow(id: string): void {
    if (this.shownFor !== id) {
      window.clearTimeout(this.timer);
      this.timer = window.setTimeout(() => {
        void this.load().catch(error => this.ctx.report(error));
      }, DETAILS_DELAY_MS);
    }
  }

  reload(pending: Pending): Promise<void>[] {
    return pending.all || pending.details ? [this.load()] : [];
  }

  reset(): void {
    this.token++;
    this.taggedToken++;
    this.shownFor = null;
    this.tagShown = null;
  }

  dispose(): void {
    window.clearTimeout(this.timer);
    super.dispose();
  }

  private async load(): Promise<void> {
    window.clearTimeout(this.timer);
    const id = this.selected();
    const token = ++this.token;
    if (!this.ctx.settings.sections.selected) {
      return;
    }
    if (!id) {
      this.shownFor = null;
      this.render(null, [], []);
      return;
    }
    const [tags, backlinks] = await this.fetch(id);
    if (token !== this.token) {
      return;
    }
    this.shownFor = id;
    this.ctx.remember(backlinks);
    this.render(this.ctx.nodes.get(id) ?? null, tags, backlinks);
    if (this.tagShown && !tags.includes(this.tagShown)) {
      this.tagShown = null;
    }
    if (this.tagShown) {
      await this.showTagged(this.tagShown);
    }
  }

  /** Tags and backlinks of `id`; none for a node deleted meanwhile. */
  private async fetch(id: string): Promise<[string[], INode[]]> {
    const api = this.ctx.api;
    try {
      return await Promise.all([
        api.call<string[]>('tags', [id]).then(a => a.result),
        api.call<INode[]>('backlinks', [id]).then(a => a.result)
      ]);
    } catch (error) {
      if (error instanceof ApiError && error.kind === 'NotFound') {
        return [[], []];
      }
      throw error;
    }
  }

  private render(node: INode | null, tags: string[], backlinks: INode[]): void {
    const body = this.body;
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
    body.append(this.titleOf(node), this.tagChips(tags), this.taggedList);
    body.appendChild(
      h('div', { className: 'ns-subtitle', text: `Backlinks (${backlinks.length})` })
    );
    const list = h('ul', { className: 'ns-list ns-backlinks' });
    if (backlinks.length === 0) {
      list.appendChild(h('li', { className: 'ns-empty', text: 'Nothing links here yet.' }));
    }
    for (const source of backlinks) {
      list.appendChild(nodeItem(this.ctx, source, 'ns-backlink'));
    }
    body.appendChild(list);
  }

  private titleOf(node: INode): HTMLElement {
    const title = h('div', {
      className: 'ns-details-title',
      text: displayTitle(node.title),
      title: 'Open',
      attrs: { tabindex: '0', role: 'button', 'data-id': node.id }
    });
    title.addEventListener('click', () => this.ctx.openNode(node.id, true));
    title.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        this.ctx.openNode(node.id, true);
      }
    });
    return title;
  }

  private tagChips(tags: string[]): HTMLElement {
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
    return tagList;
  }

  /** The nodes carrying a tag, under the tags (null: hide the list). */
  private async showTagged(tag: string | null): Promise<void> {
    const list = this.taggedList;
    for (const chip of this.body.querySelectorAll<HTMLElement>('.ns-tag')) {
      chip.classList.toggle('ns-tag-open', chip.dataset.tag === tag);
    }
    if (!tag) {
      list.replaceChildren();
      return;
    }
    const token = ++this.taggedToken;
    let members: INode[];
    try {
      members = (await this.ctx.api.call<INode[]>('members', [tag])).result;
    } catch (error) {
      this.ctx.report(error);
      return;
    }
    if (token !== this.taggedToken) {
      return;
    }
    this.ctx.remember(members);
    list.replaceChildren(h('li', { className: 'ns-subtitle', text: `Tagged #${tag}` }));
    for (const member of members) {
      list.appendChild(nodeItem(this.ctx, member, 'ns-tagged'));
    }
  }

  private readonly body = h('div');
  private readonly taggedList = h('ul');
  /** The node whose tags and backlinks are shown. */
  private shownFor: string | null = null;
  /** The tag whose nodes are listed under the tags. */
  private tagShown: string | null = null;
  private timer = 0;
  private token = 0;
  private taggedToken = 0;
}
