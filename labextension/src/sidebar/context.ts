/**
 * What the sidebar's parts share: the API, the update bus, every node seen, the
 * settings, the status line's messages and opening a node.
 */
import { INode, isConflict, isRestarting, errorText, NodeSpaceApi } from '../api';
import { DEFAULT_SETTINGS, ISidebarSettings } from '../settings';
import { UpdateBus } from './bus';

/** How the sidebar asks the application to open a node in the main area. */
export type OpenHandler = (id: string, options: { focus: boolean }) => void;

/** Where the parts' messages go (the status line). */
export interface IMessages {
  show(message: string): void;
  clear(): void;
}

export class SidebarContext {
  constructor(
    readonly api: NodeSpaceApi,
    readonly bus: UpdateBus,
    private readonly messages: IMessages
  ) {}

  /** Every node seen, by id (the newest copy). */
  readonly nodes = new Map<string, INode>();

  settings: ISidebarSettings = DEFAULT_SETTINGS;

  /** Opens a node in the main area (set by the plugin). */
  openHandler: OpenHandler | null = null;

  /** Shows a node in the outline (set by the panel to the outline's reveal). */
  reveal: (id: string, focus: boolean) => Promise<void> = async () => undefined;

  /** The journal page the Today section shows, if loaded. */
  today: INode | null = null;

  remember(nodes: INode[]): void {
    for (const node of nodes) {
      this.nodes.set(node.id, node);
    }
  }

  /** A message in the status line (errors of the last action), cleared by the next one. */
  report(error: unknown): void {
    if (isRestarting(error)) {
      this.messages.show('The service is restarting; try again in a moment.');
    } else if (isConflict(error)) {
      this.messages.show('It changed elsewhere meanwhile; reloaded.');
      this.bus.pending.all = true;
      this.bus.schedule();
    } else {
      this.messages.show(errorText(error));
    }
  }

  clearMessage(): void {
    this.messages.clear();
  }

  openNode(id: string, focus: boolean): void {
    this.openHandler?.(id, { focus });
  }

  /** Show a node in the outline and open it in the main area. */
  showAndOpen(id: string, focus: boolean): void {
    void this.reveal(id, false);
    this.openNode(id, focus);
  }

  /** A click on `element` opens the node (focus stays here); Enter opens and focuses it. */
  opensOnActivate(element: HTMLElement, id: string): void {
    element.addEventListener('click', () => this.showAndOpen(id, false));
    element.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        this.showAndOpen(id, true);
      }
    });
  }
}
