/** The Today section: the entries of today's journal page, and a field to add one. */
import { INode } from '../api';
import { displayTitle, h } from '../dom';
import { IBusPart, Pending } from './bus';
import { SidebarContext } from './context';
import { Section } from './section';

export class TodaySection extends Section implements IBusPart {
  constructor(ctx: SidebarContext) {
    super(ctx, 'Today', 'ns-today');
    this.list.className = 'ns-list ns-today-list';
    const input = this.input;
    input.type = 'text';
    input.className = 'ns-input ns-today-input';
    input.placeholder = 'Add to today…';
    input.setAttribute('aria-label', "Add to today's journal");
    input.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        void this.add();
      }
    });
    this.node.append(this.list, input);
  }

  reload(pending: Pending): Promise<void>[] {
    return pending.all || pending.today ? [this.load()] : [];
  }

  reset(): void {
    this.token++;
    this.ctx.today = null;
  }

  private async load(): Promise<void> {
    const token = ++this.token;
    if (!this.ctx.settings.sections.today) {
      return;
    }
    const api = this.ctx.api;
    const day = (await api.call<INode>('journal')).result;
    const entries = (await api.call<INode[]>('children', [day.id])).result;
    if (token !== this.token) {
      return;
    }
    this.ctx.today = day;
    this.ctx.remember(entries);
    this.summary.textContent = `Today · ${day.title}`;
    this.render(entries);
  }

  private render(entries: INode[]): void {
    const list = this.list;
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
      this.ctx.opensOnActivate(item, entry.id);
      list.appendChild(item);
    }
  }

  private async add(): Promise<void> {
    const title = this.input.value.trim();
    const today = this.ctx.today;
    if (!title || !today) {
      return;
    }
    try {
      await this.ctx.api.call<INode>('create', ['text', title], { parent: today.id });
      this.input.value = '';
      this.ctx.clearMessage();
    } catch (error) {
      this.ctx.report(error);
    }
    const bus = this.ctx.bus;
    bus.pending.today = true;
    bus.pending.parents.add(today.id);
    bus.schedule();
  }

  private readonly list = h('ul');
  private readonly input = h('input');
  private token = 0;
}
