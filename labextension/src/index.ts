/**
 * NodeSpace Lab for JupyterLab: a left sidebar on the knowledge base the
 * Jupyter server was started with (`NODESPACE_KB`) or the one chosen in the
 * settings, node editors in the main area, commands (palette and the
 * outline's context menu) and settings.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage, WidgetTracker } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ReadonlyJSONObject } from '@lumino/coreutils';
import { DockPanel } from '@lumino/widgets';

import { NodeEditor, NodeEditorPanel } from './editor';
import { nodespaceIcon } from './icon';
import { insertLiveQuery, LiveView } from './notebook';
import { readSettings } from './settings';
import { NodeSpaceSidebar } from './sidebar/index';

namespace CommandIDs {
  export const open = 'nodespace:open-sidebar';
  export const newNote = 'nodespace:new-note';
  export const search = 'nodespace:search';
  export const openNode = 'nodespace:open-node';
  export const saveNode = 'nodespace:save-node';
  export const renameNode = 'nodespace:rename-node';
  export const newChild = 'nodespace:new-child';
  export const deleteNode = 'nodespace:delete-node';
  export const insertLiveQuery = 'nodespace:insert-live-query';
}

const PLUGIN_ID = 'nodespace-lab:sidebar';
const CATEGORY = 'NodeSpace';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'The NodeSpace knowledge base in JupyterLab: sidebar (search, today, tasks, outline, ' +
    'tags and backlinks), node editors, commands, live.',
  autoStart: true,
  optional: [
    ICommandPalette,
    ILayoutRestorer,
    INotebookTracker,
    IRenderMimeRegistry,
    ISettingRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    rendermime: IRenderMimeRegistry | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const sidebar = new NodeSpaceSidebar();
    app.shell.add(sidebar, 'left', { rank: 850 });
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
    }
    const { commands } = app;
    const show = () => app.shell.activateById(sidebar.id);

    // -- node editors in the main area ----------------------------------------

    const editors = new WidgetTracker<NodeEditorPanel>({ namespace: 'nodespace-node' });
    let editorCount = 0;
    let loadRemoteImages = false; // the setting; blocked until it is read
    const setLoadRemoteImages = (value: boolean) => {
      if (value !== loadRemoteImages) {
        loadRemoteImages = value;
        editors.forEach(panel => panel.content.refreshPreview());
      }
    };
    const openNode = async (id: string, focus: boolean): Promise<NodeEditorPanel> => {
      sidebar.start(); // the editors follow the sidebar's change feed
      let panel = editors.find(widget => widget.content.nodeId === id);
      if (!panel) {
        const content = new NodeEditor({
          api: sidebar.api,
          nodeId: id,
          changes: sidebar.changed,
          rendermime,
          openNode: other => void openNode(other, true),
          loadRemoteImages: () => loadRemoteImages
        });
        panel = new NodeEditorPanel({ content });
        panel.id = `nodespace-node-${++editorCount}`;
        panel.addClass('ns-editor-panel');
        app.shell.add(panel, 'main', { activate: false });
        await editors.add(panel);
      }
      if (focus) {
        app.shell.activateById(panel.id);
      } else if (panel.parent instanceof DockPanel) {
        panel.parent.selectWidget(panel); // shown, but the focus stays where it is
      } else {
        app.shell.activateById(panel.id);
      }
      return panel;
    };
    sidebar.openHandler = (id, options) => void openNode(id, options.focus);

    // Switching the knowledge base: unsaved edits are saved first (a conflict stops
    // the switch), then the editors of the old one close.
    sidebar.beforeSwitch = async () => {
      for (const panel of editors.filter(widget => widget.content.dirty)) {
        await panel.content.save();
        if (panel.content.dirty) {
          throw new Error(
            `“${panel.content.title.label}” has changes that could not be saved; ` +
              'save or discard them, then choose the knowledge base again.'
          );
        }
      }
    };
    sidebar.kbChanged.connect(() => {
      // A dirty editor here means the switch came from another tab: it stays open so
      // its text is not lost (saving it reports that the node is not found).
      for (const panel of editors.filter(widget => !widget.content.dirty)) {
        panel.dispose();
      }
    });
    if (restorer) {
      void restorer.restore(editors, {
        command: CommandIDs.openNode,
        args: widget => ({ id: widget.content.nodeId, focus: false }),
        name: widget => widget.content.nodeId
      });
    }

    /** The node a command is about: its `id` argument, the row right-clicked, or the selection. */
    const targetNode = (args: Record<string, unknown>): string | null => {
      if (typeof args['id'] === 'string' && args['id']) {
        return args['id'];
      }
      if (args['fromMenu']) {
        const row = app.contextMenuHitTest(
          node => node.classList.contains('ns-row') && !!node.dataset.id
        );
        if (row?.dataset.id) {
          return row.dataset.id;
        }
      }
      return sidebar.selectedId;
    };
    const hasTarget = (args: Record<string, unknown>) => targetNode(args) !== null;

    commands.addCommand(CommandIDs.open, {
      label: 'NodeSpace: Open sidebar',
      caption: 'Show the NodeSpace knowledge-base sidebar',
      icon: nodespaceIcon,
      execute: show
    });
    commands.addCommand(CommandIDs.newNote, {
      label: 'NodeSpace: New note',
      caption: 'Add a note at the top level of the knowledge base',
      execute: () => {
        show();
        sidebar.focusNewNote();
      }
    });
    commands.addCommand(CommandIDs.search, {
      label: 'NodeSpace: Search',
      caption: 'Search the knowledge base',
      execute: args => {
        show();
        const text = typeof args['text'] === 'string' ? args['text'] : undefined;
        sidebar.focusSearch(text);
      }
    });
    commands.addCommand(CommandIDs.openNode, {
      label: args => (args['fromMenu'] ? 'Open' : 'NodeSpace: Open node'),
      caption: 'Open the node (its id, or the one selected in the outline) in an editor',
      icon: args => (args['fromMenu'] ? undefined : nodespaceIcon),
      execute: async args => {
        const id = targetNode(args);
        if (!id) {
          show();
          sidebar.focusSearch(); // nothing selected: find it first
          return;
        }
        await openNode(id, args['focus'] !== false);
      }
    });
    commands.addCommand(CommandIDs.saveNode, {
      label: 'NodeSpace: Save node',
      caption:
        'Save the node in the current editor (a conflicting change is shown, not overwritten)',
      isEnabled: () => editors.currentWidget !== null,
      execute: async () => {
        const panel = editors.currentWidget;
        if (panel) {
          await panel.content.save();
        }
      }
    });
    commands.addCommand(CommandIDs.renameNode, {
      label: args => (args['fromMenu'] ? 'Rename' : 'NodeSpace: Rename node'),
      caption: 'Rename the node in the outline',
      isEnabled: hasTarget,
      execute: async args => {
        const id = targetNode(args);
        if (id) {
          show();
          await sidebar.renameNode(id);
        }
      }
    });
    commands.addCommand(CommandIDs.newChild, {
      label: args => (args['fromMenu'] ? 'New child' : 'NodeSpace: New child node'),
      caption: 'Add a node under this one',
      isEnabled: hasTarget,
      execute: async args => {
        const id = targetNode(args);
        if (id) {
          show();
          await sidebar.newChild(id);
        }
      }
    });
    commands.addCommand(CommandIDs.deleteNode, {
      label: args => (args['fromMenu'] ? 'Delete' : 'NodeSpace: Delete node'),
      caption: 'Delete the node and what is below it (Undo in the sidebar brings it back)',
      isEnabled: hasTarget,
      execute: async args => {
        const id = targetNode(args);
        if (id) {
          await sidebar.deleteNode(id);
        }
      }
    });
    commands.addCommand(CommandIDs.insertLiveQuery, {
      label: args => {
        const what = args['view'] === 'tasks' ? 'live task list' : 'live query';
        const label = `Insert ${what} into notebook${args['run'] ? ' and run it' : ''}`;
        return args['fromMenu'] ? label : `NodeSpace: ${label}`;
      },
      caption:
        'Add a code cell below the active cell of the current notebook that shows the view ' +
        'live: the selected node’s children, or the open tasks',
      isEnabled: () => notebooks?.currentWidget != null,
      execute: async args => {
        const view: LiveView =
          args['view'] === 'tasks'
            ? { kind: 'tasks' }
            : (() => {
                const id = targetNode(args);
                return id ? { kind: 'node', id } : { kind: 'tasks' };
              })();
        const panel = notebooks?.currentWidget ?? null;
        if (!panel) {
          await showErrorMessage('No notebook', 'Open a notebook first: the cell goes into it.');
          return;
        }
        await insertLiveQuery(panel, view, args['run'] === true);
        app.shell.activateById(panel.id);
      }
    });

    // Enabled or not depends on the selection and on the current notebook.
    sidebar.selectionChanged.connect(() => commands.notifyCommandChanged());
    notebooks?.currentChanged.connect(() => commands.notifyCommandChanged());
    editors.currentChanged.connect(() => commands.notifyCommandChanged(CommandIDs.saveNode));

    if (palette) {
      for (const command of [
        CommandIDs.open,
        CommandIDs.newNote,
        CommandIDs.search,
        CommandIDs.openNode,
        CommandIDs.saveNode,
        CommandIDs.renameNode,
        CommandIDs.newChild,
        CommandIDs.deleteNode
      ]) {
        palette.addItem({ command, category: CATEGORY });
      }
      const variants: ReadonlyJSONObject[] = [
        {},
        { run: true },
        { view: 'tasks' },
        { view: 'tasks', run: true }
      ];
      for (const args of variants) {
        palette.addItem({ command: CommandIDs.insertLiveQuery, category: CATEGORY, args });
      }
    }

    // -- the outline's context menu ---------------------------------------------

    const rows = '.ns-sidebar .ns-row';
    const menu: [string, Record<string, unknown>, number][] = [
      [CommandIDs.openNode, {}, 1],
      [CommandIDs.renameNode, {}, 2],
      [CommandIDs.newChild, {}, 3],
      [CommandIDs.deleteNode, {}, 4],
      [CommandIDs.insertLiveQuery, {}, 10],
      [CommandIDs.insertLiveQuery, { run: true }, 11]
    ];
    app.contextMenu.addItem({ type: 'separator', selector: rows, rank: 0 });
    for (const [command, args, rank] of menu) {
      app.contextMenu.addItem({ command, args: { ...args, fromMenu: true }, selector: rows, rank });
    }
    app.contextMenu.addItem({ type: 'separator', selector: rows, rank: 9 });
    const tasks = '.ns-sidebar .ns-tasks-section';
    for (const [args, rank] of [
      [{ view: 'tasks' }, 10],
      [{ view: 'tasks', run: true }, 11]
    ] as [Record<string, unknown>, number][]) {
      app.contextMenu.addItem({
        command: CommandIDs.insertLiveQuery,
        args: { ...args, fromMenu: true },
        selector: tasks,
        rank
      });
    }

    // -- settings ----------------------------------------------------------------

    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = () => {
            const values = readSettings(settings);
            sidebar.applySettings(values);
            setLoadRemoteImages(values.loadRemoteImages);
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.error('nodespace-lab: cannot load the settings', reason);
        });
    }
  }
};

export default plugin;
