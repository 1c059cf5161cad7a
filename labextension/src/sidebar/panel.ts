/**
 * The NodeSpace sidebar: status, search, today's journal, open tasks and the
 * outline of the knowledge base, kept up to date by the change feed. It composes
 * the parts of this folder and is what the plugin (../index.ts) talks to.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { IChangeSet, NodeSpaceApi } from '../api';
import { AskPanel } from '../ask';
import { h } from '../dom';
import { nodespaceIcon } from '../icon';
import { ISidebarSettings, SECTIONS, SectionName } from '../settings';
import { interpretChange, IBusPart, UpdateBus } from './bus';
import { Connection } from './connection';
import { OpenHandler, SidebarContext } from './context';
import { DetailsSection } from './details';
import { OutlineSection } from './outline';
import { SearchSection } from './search';
import { Part, Section } from './section';
import { Mode, StatusLine } from './status';
import { TasksSection } from './tasks';
import { TodaySection } from './today';
import { focusAfterCommand } from './titlefield';
import { UndoBar } from './undo';

export class NodeSpaceSidebar extends Widget {
  constructor(api?: NodeSpaceApi) {
    super();
    this.api = api ?? new NodeSpaceApi();
    this.id = 'nodespace-sidebar';
    this.addClass('ns-sidebar');
    this.title.icon = nodespaceIcon;
    this.title.caption = 'NodeSpace';
    this.bus = new UpdateBus();
    this.ctx = new SidebarContext(this.api, this.bus, this.status);
    this.bus.onError = error => this.ctx.report(error);
    this.connection = new Connection(this.api, this.bus, this.status, {
      onChange: change => this.onChange(change),
      onMode: mode => this.onMode(mode),
      onReset: () => this.reset()
    });
    this.connection.kbChanged.connect((_, path) => this._kbChanged.emit(path));
    this.buildParts();
  }

  readonly api: NodeSpaceApi;

  /** Every change set of the feed, as it arrives (the node editors follow it). */
  get changed(): ISignal<this, IChangeSet> {
    return this._changed;
  }

  /** The selected node of the outline changed (null: none). */
  get selectionChanged(): ISignal<this, string | null> {
    return this._selectionChanged;
  }

  /** Another knowledge base became current (chosen here or in another tab): its path or null. */
  get kbChanged(): ISignal<this, string | null> {
    return this._kbChanged;
  }

  /** The path of the knowledge base shown ('' before the server answered). */
  get kbPath(): string {
    return this.status.kbPath;
  }

  /** Opens a node in the main area (set by the plugin). */
  get openHandler(): OpenHandler | null {
    return this.ctx.openHandler;
  }

  set openHandler(handler: OpenHandler | null) {
    this.ctx.openHandler = handler;
  }

  /**
   * Runs before this sidebar switches to another knowledge base (the plugin saves
   * the node editors' unsaved changes); a rejection stops the switch.
   */
  get beforeSwitch(): (() => Promise<void>) | null {
    return this.connection.beforeSwitch;
  }

  set beforeSwitch(hook: (() => Promise<void>) | null) {
    this.connection.beforeSwitch = hook;
  }

  /** The node selected in the outline, if any. */
  get selectedId(): string | null {
    return this.outline.selected;
  }

  /** Connect and follow the feed, if not done yet (also when the sidebar was never shown). */
  start(): void {
    this.ensureStarted();
  }

  /** Apply the settings: the knowledge base, shown sections and list sizes. */
  applySettings(settings: ISidebarSettings): void {
    const before = this.ctx.settings;
    this.ctx.settings = settings;
    for (const name of SECTIONS) {
      this.sectionOf(name).node.hidden = !settings.sections[name];
    }
    const wanted = settings.knowledgeBase;
    if (wanted !== this.requestedKb) {
      // At start-up an empty setting keeps whatever the server uses (NODESPACE_KB).
      const first = this.requestedKb === null;
      this.requestedKb = wanted;
      if (wanted || !first) {
        void this.connection.switchTo(wanted);
      }
    }
    if (this.started) {
      this.reloadShown(before, settings);
    }
  }

  /** Focus the search field (command "NodeSpace: Search"). */
  focusSearch(text?: string): void {
    this.search.focusWith(text, focusAfterCommand);
  }

  /** Focus the new-note field (command "NodeSpace: New note"). */
  focusNewNote(): void {
    this.outline.node.open = true;
    focusAfterCommand(this.outline.createInput);
  }

  /** Rename a node in place: show it in the outline and edit its title there. */
  async renameNode(id: string): Promise<void> {
    await this.outline.reveal(id);
    this.outline.edits.startEdit(id);
  }

  /** Add a child to a node: an empty row under it takes the title (Enter adds, Escape cancels). */
  newChild(id: string): Promise<void> {
    return this.outline.edits.newChild(id);
  }

  /** Delete a node (and what is below it), with Undo in the sidebar. */
  deleteNode(id: string): Promise<void> {
    return this.outline.deleteNode(id);
  }

  /** Show a node in the outline: expand its ancestors and select it (and focus it). */
  reveal(id: string, focus = true): Promise<void> {
    return this.outline.reveal(id, focus);
  }

  /** Reload everything the sidebar shows. */
  async refreshAll(): Promise<void> {
    this.bus.pending.all = true;
    await this.bus.flush();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.connection.stop();
    this.bus.dispose();
    for (const part of this.parts) {
      part.dispose();
    }
    super.dispose();
  }

  protected onAfterShow(): void {
    this.ensureStarted();
  }

  protected onAfterAttach(): void {
    if (this.isVisible) {
      this.ensureStarted();
    }
  }

  private ensureStarted(): void {
    if (!this.started) {
      this.started = true;
      void this.connection.connect();
    }
  }

  /** A change set of the feed: the editors hear it at once, the parts on the next flush. */
  private onChange(change: IChangeSet): void {
    this._changed.emit(change);
    interpretChange(change, this.bus.pending, this.ctx.today?.id ?? null);
    this.bus.schedule();
  }

  private onMode(mode: Mode): void {
    this.node.dataset.mode = mode;
    this.body.hidden = mode === 'unconfigured';
  }

  /** The knowledge base changed: every part forgets what it showed. */
  private reset(): void {
    this.ctx.nodes.clear();
    this.bus.reset();
    for (const part of this.parts) {
      part.reset();
    }
    this.askPanel.reset();
    this.started = true;
  }

  /** Sections just shown, or whose list size changed, load what they show. */
  private reloadShown(before: ISidebarSettings, settings: ISidebarSettings): void {
    const shown = (name: SectionName) => settings.sections[name] && !before.sections[name];
    const pending = this.bus.pending;
    pending.today ||= shown('today');
    pending.tasks ||= shown('tasks') || settings.tasksLimit !== before.tasksLimit;
    pending.search ||= shown('search') || settings.searchLimit !== before.searchLimit;
    pending.details ||= shown('selected');
    this.bus.schedule();
  }

  private sectionOf(name: SectionName): Section {
    const sections: Record<SectionName, Section> = {
      search: this.search,
      ask: this.ask,
      today: this.today,
      tasks: this.tasks,
      selected: this.details,
      outline: this.outline
    };
    return sections[name];
  }

  private buildParts(): void {
    const ctx = this.ctx;
    this.undo = new UndoBar(ctx);
    this.search = new SearchSection(ctx);
    this.ask = new Section(ctx, 'Ask', 'ns-ask-section');
    this.askPanel = new AskPanel(this.api, id => ctx.openNode(id, true));
    this.ask.node.append(this.askPanel.node);
    this.today = new TodaySection(ctx);
    this.tasks = new TasksSection(ctx);
    this.outline = new OutlineSection(ctx, this.undo);
    this.details = new DetailsSection(ctx, () => this.outline.selected);
    this.outline.onSelect = id => this.details.follow(id);
    this.outline.selectionChanged.connect((_, id) => this._selectionChanged.emit(id));
    ctx.reveal = (id, focus) => this.outline.reveal(id, focus);
    // The outline reloads first: the other parts' lists come from its nodes less often.
    const onBus: IBusPart[] = [this.outline, this.today, this.tasks, this.search, this.details];
    onBus.forEach(part => this.bus.subscribe(part));
    this.parts = [this.undo, this.search, this.ask, this.today, this.tasks, this.details];
    this.parts.push(this.outline);
    this.buildDom();
  }

  private buildDom(): void {
    const header = h(
      'header',
      { className: 'ns-header' },
      h('h2', { className: 'ns-heading', text: 'NodeSpace' }),
      this.status.node
    );
    this.node.append(header, this.undo.node, this.body);
    this.status.render();
    const order = [this.search, this.ask, this.today, this.tasks, this.details, this.outline];
    this.body.append(...order.map(section => section.node));
  }

  private readonly _changed = new Signal<this, IChangeSet>(this);
  private readonly _selectionChanged = new Signal<this, string | null>(this);
  private readonly _kbChanged = new Signal<this, string | null>(this);
  private readonly status = new StatusLine();
  private readonly bus: UpdateBus;
  private readonly ctx: SidebarContext;
  private readonly connection: Connection;
  private readonly body = h('div', { className: 'ns-body' });
  /** The knowledge base the settings ask for; null until the settings are first applied. */
  private requestedKb: string | null = null;
  private started = false;
  private parts: Part[] = [];
  private undo!: UndoBar;
  private search!: SearchSection;
  private ask!: Section;
  private askPanel!: AskPanel;
  private today!: TodaySection;
  private tasks!: TasksSection;
  private details!: DetailsSection;
  private outline!: OutlineSection;
}
