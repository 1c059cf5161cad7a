/** The Search section: a field, how to search, and the hits (each opens its node). */
import { errorText, IHit } from '../api';
import { displayTitle, h, highlighted } from '../dom';
import { IBusPart, Pending } from './bus';
import { SidebarContext } from './context';
import { Section } from './section';

const SEARCH_DELAY_MS = 150;

const MODES: [string, string, string][] = [
  ['hybrid', 'Words + meaning', 'Full text and semantic search, ranked together'],
  ['text', 'Words', 'Full-text search only (no model needed)'],
  ['semantic', 'Meaning', 'Semantic search only: finds notes that say it differently']
];

export class SearchSection extends Section implements IBusPart {
  constructor(ctx: SidebarContext) {
    super(ctx, 'Search', 'ns-search');
    this.buildInput();
    this.buildModes();
    this.results.className = 'ns-list ns-search-results';
    this.node.append(h('div', { className: 'ns-search-bar' }, this.input, this.mode), this.results);
  }

  /** Focus the field, with `text` in it if given (command "NodeSpace: Search"). */
  focusWith(text: string | undefined, focus: (input: HTMLInputElement) => void): void {
    this.node.open = true;
    if (text !== undefined) {
      this.input.value = text;
      this.schedule();
    }
    focus(this.input);
    this.input.select();
  }

  reload(pending: Pending): Promise<void>[] {
    // Every change may change the hits, but only a search shown is worth running again.
    const again = pending.all || (pending.search && this.input.value.trim() !== '');
    return again ? [this.run()] : [];
  }

  reset(): void {
    this.token++;
  }

  dispose(): void {
    window.clearTimeout(this.timer);
    super.dispose();
  }

  private buildInput(): void {
    const input = this.input;
    input.type = 'search';
    input.className = 'ns-input ns-search-input';
    input.placeholder = 'Search notes and tasks…';
    input.setAttribute('aria-label', 'Search the knowledge base');
    input.addEventListener('input', () => this.schedule());
    input.addEventListener('keydown', event => {
      if (event.key === 'Escape') {
        input.value = '';
        this.schedule();
      }
    });
  }

  private buildModes(): void {
    this.mode.className = 'ns-search-mode';
    this.mode.setAttribute('aria-label', 'How to search');
    for (const [value, label, title] of MODES) {
      const option = h('option', { text: label, title });
      option.value = value;
      this.mode.appendChild(option);
    }
    this.mode.addEventListener('change', () => this.schedule());
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.run(), SEARCH_DELAY_MS);
  }

  private async run(): Promise<void> {
    const text = this.input.value.trim();
    const token = ++this.token;
    if (!text || !this.ctx.settings.sections.search) {
      this.results.replaceChildren();
      return;
    }
    let hits: IHit[];
    try {
      const options = { limit: this.ctx.settings.searchLimit, mode: this.mode.value };
      hits = (await this.ctx.api.call<IHit[]>('search', [text], options)).result;
    } catch (error) {
      if (token === this.token) {
        this.results.replaceChildren(
          h('li', { className: 'ns-empty ns-error', text: `Search failed: ${errorText(error)}` })
        );
      }
      return;
    }
    if (token === this.token) {
      this.render(hits); // else a newer search is under way
    }
  }

  private render(hits: IHit[]): void {
    const list = this.results;
    list.replaceChildren();
    if (hits.length === 0) {
      list.appendChild(h('li', { className: 'ns-empty', text: 'No matches.' }));
    }
    for (const hit of hits) {
      list.appendChild(this.hitItem(hit));
    }
  }

  private hitItem(hit: IHit): HTMLLIElement {
    const snippet = h('div', { className: 'ns-hit-snippet' });
    snippet.appendChild(highlighted(hit.snippet, hit.highlights ?? []));
    const item = h(
      'li',
      { className: 'ns-hit', attrs: { 'data-id': hit.id, tabindex: '0', role: 'button' } },
      h(
        'div',
        { className: 'ns-hit-head' },
        h('span', { className: 'ns-hit-title', text: displayTitle(hit.title) }),
        h('span', { className: 'ns-kind', text: hit.kind })
      ),
      snippet
    );
    this.ctx.opensOnActivate(item, hit.id);
    return item;
  }

  private readonly input = h('input');
  private readonly mode = h('select');
  private readonly results = h('ul');
  private timer = 0;
  private token = 0;
}
