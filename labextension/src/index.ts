/**
 * NodeSpace Lab for JupyterLab: a left sidebar on the knowledge base the
 * Jupyter server was started with (`NODESPACE_KB`), and palette commands.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { nodespaceIcon } from './icon';
import { NodeSpaceSidebar } from './sidebar';

namespace CommandIDs {
  export const open = 'nodespace:open-sidebar';
  export const newNote = 'nodespace:new-note';
  export const search = 'nodespace:search';
}

const CATEGORY = 'NodeSpace';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nodespace-lab:sidebar',
  description: 'The NodeSpace knowledge-base sidebar: search, outline, today, tasks, live.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const sidebar = new NodeSpaceSidebar();
    app.shell.add(sidebar, 'left', { rank: 850 });
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
    }

    const show = () => app.shell.activateById(sidebar.id);
    app.commands.addCommand(CommandIDs.open, {
      label: 'NodeSpace: Open sidebar',
      caption: 'Show the NodeSpace knowledge-base sidebar',
      icon: nodespaceIcon,
      execute: show
    });
    app.commands.addCommand(CommandIDs.newNote, {
      label: 'NodeSpace: New note',
      caption: 'Add a note at the top level of the knowledge base',
      execute: () => {
        show();
        sidebar.focusNewNote();
      }
    });
    app.commands.addCommand(CommandIDs.search, {
      label: 'NodeSpace: Search',
      caption: 'Search the knowledge base',
      execute: args => {
        show();
        const text = typeof args['text'] === 'string' ? args['text'] : undefined;
        sidebar.focusSearch(text);
      }
    });
    if (palette) {
      for (const command of [CommandIDs.open, CommandIDs.newNote, CommandIDs.search]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }
  }
};

export default plugin;
