/**
 * "Insert live query into notebook": a code cell, below the active one, that
 * shows a view of the knowledge base as a live widget. The kernel reaches the
 * knowledge base with `ns.connect()`: kernels started by this JupyterLab get
 * NODESPACE_KB and NODESPACE_SERVICE from the server extension.
 */
import { NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

/** What the cell shows: the children of a node, or the open tasks. */
export type LiveView = { kind: 'node'; id: string } | { kind: 'tasks' };

/** A Python string literal for `text` (JSON's escapes are valid in Python). */
export function pythonString(text: string): string {
  return JSON.stringify(text);
}

/** The code of the cell for a view. */
export function liveQueryCode(view: LiveView): string {
  if (view.kind === 'tasks') {
    return [
      'import nodespace_lab as ns',
      'from nodespace_lab.widgets import TaskList',
      '',
      'TaskList.of(ns.connect())'
    ].join('\n');
  }
  return [
    'import nodespace_lab as ns',
    '',
    'kb = ns.connect()',
    `kb.live(kb.find().under(${pythonString(view.id)}))`
  ].join('\n');
}

/** Insert the cell below the active cell of `panel`; run it when `run` is set. */
export async function insertLiveQuery(
  panel: NotebookPanel,
  view: LiveView,
  run: boolean
): Promise<void> {
  await panel.context.ready;
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  if (notebook.activeCell?.model.type !== 'code') {
    NotebookActions.changeCellType(notebook, 'code');
  }
  const cell = notebook.activeCell;
  if (!cell) {
    return;
  }
  cell.model.sharedModel.setSource(liveQueryCode(view));
  if (run) {
    await panel.sessionContext.ready;
    await NotebookActions.run(notebook, panel.sessionContext);
  }
}
