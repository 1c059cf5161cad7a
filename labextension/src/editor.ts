/**
 * A node in the main area: its title, its Markdown content in a text area and a
 * sanitised preview. Saving writes with `expected_version`, so an edit made
 * elsewhere meanwhile is never overwritten silently: the editor shows both
 * versions and lets the user choose.
 */
import { Dialog, MainAreaWidget, showDialog } from '@jupyterlab/apputils';
import { IRenderMimeRegistry, renderMarkdown } from '@jupyterlab/rendermime';
import { Message } from '@lumino/messaging';
import { ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { ApiError, errorText, IChangeSet, IHit, INode, isConflict, NodeSpaceApi } from './api';
import { button, displayTitle, h } from './dom';
import { nodespaceIcon } from './icon';
import { inertDocument, safeCopy } from './safehtml';

const PREVIEW_DELAY_MS = 120;
/** A `[[target]]` or `[[target|label]]` reference, as the knowledge base reads them. */
const REFERENCE = /\[\[([^[\]\n|]+?)(?:\|([^[\]\n]*))?\]\]/g;

/** The key a title or a reference is matched by (as `links.normalise` in Python). */
export function referenceKey(text: string): string {
  return text.split(/\s+/).filter(Boolean).join(' ').toLowerCase();
}

/**
 * `content` as a text area holds it: the browser turns CR and CRLF into LF, so a note
 * written elsewhere with them would otherwise look edited as soon as it opens.
 */
function asTextareaValue(content: string | null | undefined): string {
  return (content ?? '').replace(/\r\n?/g, '\n');
}

/** What the editor is doing, also set as `data-state` on its node. */
export type EditorState =
  'loading' | 'saved' | 'dirty' | 'saving' | 'conflict' | 'deleted' | 'error';

export interface INodeEditorOptions {
  api: NodeSpaceApi;
  nodeId: string;
  /** The change feed (the sidebar's): edits made elsewhere arrive here. */
  changes: ISignal<unknown, IChangeSet>;
  /** JupyterLab's renderers: Markdown parser and HTML sanitiser of the preview. */
  rendermime: IRenderMimeRegistry | null;
  /** Opens another node (a `[[link]]` clicked in the preview). */
  openNode?: (id: string) => void;
  /**
   * Whether the preview may load remote images and media (the `loadRemoteImages`
   * setting, read at each render). Default: no.
   */
  loadRemoteImages?: () => boolean;
}

/** A row image of the change feed: the node as it is after a change. */
type Row = Record<string, unknown>;

export class NodeEditor extends Widget {
  constructor(options: INodeEditorOptions) {
    super();
    this.api = options.api;
    this.nodeId = options.nodeId;
    this.rendermime = options.rendermime;
    this.openNode = options.openNode ?? null;
    this.loadRemoteImages = options.loadRemoteImages ?? (() => false);
    this.addClass('ns-editor');
    this.node.dataset.id = this.nodeId;
    this.title.icon = nodespaceIcon;
    this.title.label = 'Loading…';
    this.title.closable = true;
    this.buildDom();
    options.changes.connect(this.onChanges, this);
    this.ready = this.load();
  }

  /** Id of the node this editor shows. */
  readonly nodeId: string;
  /** Resolves when the node has been loaded the first time. */
  readonly ready: Promise<void>;

  /** True when the title or content differ from the version loaded (or last saved). */
  get dirty(): boolean {
    const base = this.base;
    return (
      base !== null &&
      (this.titleInput.value !== base.title ||
        this.contentInput.value !== asTextareaValue(base.content))
    );
  }

  /** The version the next save expects the node to be at. */
  get version(): number | null {
    return this.base?.version ?? null;
  }

  /** Load the node as it is now, dropping unsaved edits. */
  async load(): Promise<void> {
    try {
      this.apply((await this.api.call<INode>('get', [this.nodeId])).result);
    } catch (error) {
      this.setState('error', `Cannot load this node: ${errorText(error)}`);
    }
  }

  /** Save title and content if they changed; a conflict is shown, never overwritten. */
  async save(): Promise<void> {
    if (!this.base || this.saving) {
      return;
    }
    if (this.conflict) {
      this.conflictPanel.scrollIntoView({ block: 'nearest' });
      return; // the user chooses in the conflict panel
    }
    if (this.deleted) {
      this.setState('deleted');
      return;
    }
    if (!this.dirty) {
      this.setState('saved');
      return;
    }
    await this.write(this.base, this.base.version);
  }

  /** Render the preview again (a setting it depends on changed). */
  refreshPreview(): void {
    this.renderPreview();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    window.clearTimeout(this.previewTimer);
    super.dispose();
  }

  protected onActivateRequest(msg: Message): void {
    if (!this.node.contains(document.activeElement) || document.activeElement === this.node) {
      const input = this.base && !this.base.title ? this.titleInput : this.contentInput;
      input.focus();
    }
  }

  // -- loading and saving ---------------------------------------------------

  /** Take `node` as the version being edited: fields, tab title and preview. */
  private apply(node: INode): void {
    this.base = node;
    this.conflict = null;
    this.conflictPanel.hidden = true;
    this.banner.hidden = true;
    this.deleted = node.status === 'deleted';
    this.titleInput.value = node.title;
    this.contentInput.value = node.content ?? '';
    this.kindBadge.textContent = node.kind;
    this.kindBadge.hidden = node.kind === 'text';
    this.renderPreview();
    this.setState(this.deleted ? 'deleted' : 'saved');
  }

  /** The fields of the editor that differ from `against`. */
  private edits(against: INode): Record<string, string> {
    const fields: Record<string, string> = {};
    if (this.titleInput.value !== against.title) {
      fields['title'] = this.titleInput.value;
    }
    if (this.contentInput.value !== asTextareaValue(against.content)) {
      fields['content'] = this.contentInput.value;
    }
    return fields;
  }

  /** `update` with what differs from `against`, expecting `version`. */
  private async write(against: INode, version: number): Promise<void> {
    const fields = this.edits(against);
    this.saving = true;
    this.remote = null;
    this.setState('saving');
    try {
      if (Object.keys(fields).length > 0) {
        const answer = await this.api.call<INode>('update', [this.nodeId], {
          expected_version: version,
          ...fields
        });
        this.base = answer.result;
      } else {
        this.base = against; // mine equals theirs: nothing to write
      }
      this.conflict = null;
      this.conflictPanel.hidden = true;
      this.banner.hidden = true;
      this.setState(this.dirty ? 'dirty' : 'saved');
    } catch (error) {
      if (isConflict(error)) {
        await this.showConflict();
      } else if (error instanceof ApiError && /deleted/i.test(error.message)) {
        this.deleted = true;
        this.setState('deleted');
      } else {
        this.setState('error', `Not saved: ${errorText(error)}`);
      }
    } finally {
      this.saving = false;
    }
    // A change made elsewhere while the request was under way.
    const remote = this.remote;
    this.remote = null;
    if (remote && this.base && remote['version'] !== this.base.version) {
      await this.onRemoteChange(remote);
    }
  }

  /** The node changed elsewhere (a row image from the feed). */
  private async onRemoteChange(row: Row): Promise<void> {
    const deleted = row['status'] === 'deleted';
    if (deleted !== this.deleted) {
      this.deleted = deleted;
      if (deleted) {
        this.setState('deleted');
        return;
      }
    }
    if (this.conflict) {
      await this.showConflict(); // theirs moved on: show the newest
      return;
    }
    if (!this.dirty) {
      // Nothing to lose: follow it live (unless typing started while it loaded).
      try {
        const node = (await this.api.call<INode>('get', [this.nodeId])).result;
        if (!this.dirty && !this.saving && !this.conflict) {
          this.apply(node);
          return;
        }
      } catch (error) {
        this.setState('error', `Cannot reload this node: ${errorText(error)}`);
        return;
      }
    }
    this.showBanner(
      'This node was changed elsewhere while you were editing it. ' +
        'Saving will show both versions.',
      true
    );
  }

  private onChanges(_sender: unknown, change: IChangeSet): void {
    let row: Row | null = null;
    let purged = false;
    for (const op of change.ops) {
      if (op.id === this.nodeId) {
        if (op.after) {
          row = op.after;
        } else if (op.op === 'purge') {
          purged = true;
        }
      }
    }
    if (purged) {
      this.deleted = true;
      this.setState('deleted', 'This node was removed for good (purged).');
      return;
    }
    if (!row || !this.base) {
      return;
    }
    if (this.saving) {
      this.remote = row; // looked at once the save has answered
    } else if (
      row['version'] !== this.base.version ||
      (row['status'] === 'deleted') !== this.deleted
    ) {
      void this.onRemoteChange(row);
    }
  }

  // -- conflicts ----------------------------------------------------------------

  /** Fetch their version and show it next to mine, with the two ways out. */
  private async showConflict(): Promise<void> {
    let theirs: INode;
    try {
      theirs = (await this.api.call<INode>('get', [this.nodeId])).result;
    } catch (error) {
      this.setState('error', `Not saved, and their version cannot be loaded: ${errorText(error)}`);
      return;
    }
    this.conflict = theirs;
    this.banner.hidden = true;
    const mine = { title: this.titleInput.value, content: this.contentInput.value };
    this.conflictText.textContent =
      `“${displayTitle(theirs.title)}” was changed elsewhere (it is now at version ` +
      `${theirs.version}; you started from version ${this.base?.version}). ` +
      'Your edits are not saved yet: keep theirs, or overwrite them with yours.';
    this.fillSide(this.theirsSide, `Theirs · version ${theirs.version}`, theirs);
    this.fillSide(this.mineSide, 'Yours · not saved', mine);
    this.conflictPanel.hidden = false;
    this.setState('conflict');
  }

  private fillSide(
    side: HTMLElement,
    heading: string,
    values: { title: string; content: string }
  ): void {
    side.replaceChildren(
      h('h3', { className: 'ns-conflict-heading', text: heading }),
      h('div', { className: 'ns-conflict-title', text: displayTitle(values.title) }),
      h('pre', { className: 'ns-conflict-content', text: values.content ?? '' })
    );
  }

  /** Drop my edits and take their version. */
  private reloadTheirs(): void {
    if (this.conflict) {
      this.apply(this.conflict);
    } else {
      void this.load();
    }
  }

  /** Write my version over theirs (their version is what I now expect to replace). */
  private async overwrite(): Promise<void> {
    const theirs = this.conflict;
    if (!theirs || this.saving) {
      return;
    }
    await this.write(theirs, theirs.version);
  }

  // -- state and preview ----------------------------------------------------------

  private setState(state: EditorState, message = ''): void {
    this.state = state;
    this.node.dataset.state = state;
    const texts: Record<EditorState, string> = {
      loading: 'Loading…',
      saved: 'Saved',
      dirty: 'Unsaved changes (Ctrl+S saves)',
      saving: 'Saving…',
      conflict: 'Conflict: changed elsewhere',
      deleted: 'This node is deleted: restore it (Undo in the sidebar) to edit it again.',
      error: 'Error'
    };
    this.stateLine.textContent = message || texts[state];
    this.stateLine.classList.toggle('ns-error', state === 'error' || state === 'conflict');
    this.saveButton.disabled = state === 'saving' || state === 'deleted' || state === 'loading';
    this.titleInput.readOnly = this.contentInput.readOnly = state === 'deleted';
    this.updateTitle();
  }

  private showBanner(text: string, withReload: boolean): void {
    this.bannerText.textContent = text;
    this.bannerReload.hidden = !withReload;
    this.banner.hidden = false;
  }

  private onEdited(): void {
    if (this.state === 'saved' || this.state === 'dirty') {
      this.setState(this.dirty ? 'dirty' : 'saved');
    } else {
      this.updateTitle();
    }
  }

  private updateTitle(): void {
    const title = this.base ? displayTitle(this.titleInput.value) : 'Loading…';
    this.title.label = title;
    this.title.caption = `NodeSpace: ${title}${this.base ? ` (${this.base.kind}, ${this.nodeId})` : ''}`;
    this.title.className = this.dirty ? 'jp-mod-dirty' : '';
  }

  private schedulePreview(): void {
    window.clearTimeout(this.previewTimer);
    this.previewTimer = window.setTimeout(() => this.renderPreview(), PREVIEW_DELAY_MS);
  }

  /**
   * Render the content as Markdown with JupyterLab's parser, as untrusted: the
   * sanitiser drops scripts, event handlers and unsafe URLs before any of it
   * reaches the page. It renders into an inert document, and only an allow-listed
   * copy moves into the page, without remote images unless they are allowed (one
   * that loads tells its server that this note was opened): see safehtml.ts.
   */
  private renderPreview(): void {
    window.clearTimeout(this.previewTimer);
    const source = this.contentInput.value;
    const token = ++this.previewToken;
    const rendermime = this.rendermime;
    if (!rendermime) {
      this.preview.replaceChildren(h('pre', { text: source }));
      return;
    }
    const host = inertDocument().createElement('div');
    renderMarkdown({
      host,
      source,
      trusted: false,
      sanitizer: rendermime.sanitizer,
      resolver: null,
      linkHandler: null,
      latexTypesetter: rendermime.latexTypesetter,
      markdownParser: rendermime.markdownParser,
      shouldTypeset: true
    })
      .then(() => {
        if (token === this.previewToken) {
          const safe = safeCopy(host, this.remoteAllowed || this.loadRemoteImages());
          this.showRemoteNote(safe.blocked);
          linkReferences(safe.fragment, target => void this.followReference(target));
          this.preview.replaceChildren(safe.fragment);
        }
      })
      .catch(error => {
        if (token === this.previewToken) {
          this.preview.replaceChildren(
            h('pre', { className: 'ns-error', text: `Preview failed: ${errorText(error)}` })
          );
        }
      });
  }

  /** Say that `blocked` remote items were not loaded, with a button to load them. */
  private showRemoteNote(blocked: number): void {
    this.remoteNote.hidden = blocked === 0;
    this.remoteNoteText.textContent =
      `Remote images blocked (${blocked}): loading them would tell their servers ` +
      'that this note was opened.';
  }

  /** Load the blocked remote content of this editor's note (until it is closed). */
  private loadRemoteOnce(): void {
    this.remoteAllowed = true;
    this.renderPreview();
  }

  /** Open the node a `[[reference]]` names: an id, or a title (saved links first, then search). */
  private async followReference(target: string): Promise<void> {
    const key = referenceKey(target);
    try {
      const linked = (await this.api.call<INode[]>('links', [this.nodeId])).result;
      let found = linked.find(n => n.id === target.trim() || referenceKey(n.title) === key);
      if (!found && (await this.api.call<boolean>('exists', [target.trim()])).result) {
        found = { id: target.trim() } as INode;
      }
      if (!found) {
        const hits = (await this.api.call<IHit[]>('search', [target], { limit: 20 })).result;
        const hit = hits.find(h => referenceKey(h.title) === key);
        found = hit ? ({ id: hit.id } as INode) : undefined;
      }
      if (found) {
        this.openNode?.(found.id);
      } else {
        this.showBanner(`No node is titled “${target.trim()}” yet.`, false);
      }
    } catch (error) {
      this.showBanner(`Cannot follow the link: ${errorText(error)}`, false);
    }
  }

  // -- DOM --------------------------------------------------------------------

  private buildDom(): void {
    this.titleInput.type = 'text';
    this.titleInput.className = 'ns-editor-title';
    this.titleInput.placeholder = 'Title';
    this.titleInput.setAttribute('aria-label', 'Title');
    this.titleInput.addEventListener('input', () => this.onEdited());
    this.titleInput.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this.contentInput.focus();
      }
    });
    this.contentInput.className = 'ns-editor-content';
    this.contentInput.placeholder = 'Write in Markdown; [[Title]] links to another node.';
    this.contentInput.setAttribute('aria-label', 'Content (Markdown)');
    this.contentInput.spellcheck = true;
    this.contentInput.addEventListener('input', () => {
      this.onEdited();
      this.schedulePreview();
    });
    this.kindBadge.className = 'ns-kind';
    this.stateLine.className = 'ns-editor-state';
    this.stateLine.setAttribute('role', 'status');
    this.stateLine.setAttribute('aria-live', 'polite');
    this.saveButton = button('Save', 'ns-editor-save', 'Save (Ctrl+S / Cmd+S)', () => {
      void this.save();
    });
    const bar = h(
      'div',
      { className: 'ns-editor-bar' },
      this.kindBadge,
      this.titleInput,
      this.saveButton
    );

    this.banner.className = 'ns-editor-banner';
    this.banner.hidden = true;
    this.bannerReload = button(
      'Reload theirs',
      'ns-banner-reload',
      'Drop your edits and load the node as it is now',
      () => {
        void this.load();
      }
    );
    this.banner.append(this.bannerText, this.bannerReload);

    this.conflictPanel.className = 'ns-conflict';
    this.conflictPanel.setAttribute('role', 'alert');
    this.conflictPanel.hidden = true;
    this.theirsSide.className = 'ns-conflict-side ns-conflict-theirs';
    this.mineSide.className = 'ns-conflict-side ns-conflict-mine';
    this.conflictText.className = 'ns-conflict-text';
    this.conflictPanel.append(
      this.conflictText,
      h('div', { className: 'ns-conflict-sides' }, this.theirsSide, this.mineSide),
      h(
        'div',
        { className: 'ns-conflict-actions' },
        button('Reload theirs', 'ns-reload-theirs', 'Drop your edits and take their version', () =>
          this.reloadTheirs()
        ),
        button(
          'Overwrite with mine',
          'ns-overwrite',
          'Replace their version with yours',
          () => void this.overwrite()
        )
      )
    );

    this.preview.className = 'ns-editor-preview jp-RenderedHTMLCommon jp-RenderedMarkdown';
    this.preview.setAttribute('aria-label', 'Preview');
    this.remoteNote.className = 'ns-remote-note';
    this.remoteNote.setAttribute('role', 'status');
    this.remoteNote.hidden = true;
    this.remoteNote.append(
      this.remoteNoteText,
      button(
        'Load images',
        'ns-remote-load',
        'Load the remote images of this note this time (the setting “Load remote images” ' +
          'always loads them)',
        () => this.loadRemoteOnce()
      )
    );
    const panes = h('div', { className: 'ns-editor-panes' }, this.contentInput, this.preview);
    this.node.append(bar, this.stateLine, this.banner, this.conflictPanel, this.remoteNote, panes);
    this.setState('loading');
  }

  private readonly api: NodeSpaceApi;
  private readonly rendermime: IRenderMimeRegistry | null;
  private readonly openNode: ((id: string) => void) | null;
  private readonly loadRemoteImages: () => boolean;
  /** The user chose to load this note's remote images (the button). */
  private remoteAllowed = false;
  /** The version being edited: what the fields started from (or were last saved as). */
  private base: INode | null = null;
  /** Their version, while a conflict is shown. */
  private conflict: INode | null = null;
  /** The newest row image that arrived while a save was under way. */
  private remote: Row | null = null;
  private deleted = false;
  private saving = false;
  private state: EditorState = 'loading';
  private previewTimer = 0;
  private previewToken = 0;

  private readonly titleInput = h('input');
  private readonly contentInput = h('textarea');
  private readonly kindBadge = h('span');
  private readonly stateLine = h('div');
  private saveButton!: HTMLButtonElement;
  private readonly banner = h('div');
  private readonly bannerText = h('span', { className: 'ns-banner-text' });
  private bannerReload!: HTMLButtonElement;
  private readonly conflictPanel = h('div');
  private readonly conflictText = h('p');
  private readonly theirsSide = h('section');
  private readonly mineSide = h('section');
  private readonly preview = h('div');
  private readonly remoteNote = h('div');
  private readonly remoteNoteText = h('span', { className: 'ns-remote-text' });
}

/**
 * Turn the `[[references]]` in the text of `root` (not in code or links) into
 * link elements that call `follow(target)`. Text stays text: labels are set with
 * `textContent`.
 */
export function linkReferences(root: Node, follow: (target: string) => void): void {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node as Text;
    if (text.data.includes('[[') && !text.parentElement?.closest('code, pre, a')) {
      texts.push(text);
    }
  }
  for (const text of texts) {
    const fragment = document.createDocumentFragment();
    let at = 0;
    for (const match of text.data.matchAll(REFERENCE)) {
      const start = match.index ?? 0;
      fragment.append(text.data.slice(at, start));
      const target = match[1];
      const link = h('a', {
        className: 'ns-wikilink',
        text: match[2]?.trim() || target,
        title: `Open “${target.trim()}”`,
        attrs: { role: 'link', tabindex: '0', 'data-ref': target }
      });
      const open = (event: Event) => {
        event.preventDefault();
        follow(target);
      };
      link.addEventListener('click', open);
      link.addEventListener('keydown', event => {
        if (event.key === 'Enter') {
          open(event);
        }
      });
      fragment.append(link);
      at = start + match[0].length;
    }
    if (at > 0) {
      fragment.append(text.data.slice(at));
      text.replaceWith(fragment);
    }
  }
}

/** The main-area tab of a node editor: asks before closing it with unsaved edits. */
export class NodeEditorPanel extends MainAreaWidget<NodeEditor> {
  protected onCloseRequest(msg: Message): void {
    if (!this.content.dirty) {
      super.onCloseRequest(msg);
      return;
    }
    const close = () => super.onCloseRequest(msg);
    void showDialog({
      title: 'Unsaved changes',
      body: `“${this.content.title.label}” has changes that are not saved.`,
      buttons: [
        Dialog.cancelButton(),
        Dialog.warnButton({ label: 'Discard' }),
        Dialog.okButton({ label: 'Save and close' })
      ]
    }).then(async result => {
      if (result.button.label === 'Discard') {
        close();
      } else if (result.button.accept) {
        await this.content.save();
        if (!this.content.dirty) {
          close();
        }
      }
    });
  }
}
