/**
 * The settings of the sidebar (schema/sidebar.json), as the sidebar uses them.
 */
import { ISettingRegistry } from '@jupyterlab/settingregistry';

export type SectionName = 'search' | 'ask' | 'today' | 'tasks' | 'selected' | 'outline';

export const SECTIONS: SectionName[] = ['search', 'ask', 'today', 'tasks', 'selected', 'outline'];

export interface ISidebarSettings {
  /** Folder of the knowledge base (relative to the Jupyter root); '' is NODESPACE_KB's. */
  knowledgeBase: string;
  /** Which sections are shown (a section left out of the user's value is shown). */
  sections: Record<SectionName, boolean>;
  tasksLimit: number;
  searchLimit: number;
  /** The node editor's preview loads remote images and media (off: they are blocked). */
  loadRemoteImages: boolean;
}

export const DEFAULT_SETTINGS: ISidebarSettings = {
  knowledgeBase: '',
  sections: { search: true, ask: true, today: true, tasks: true, selected: true, outline: true },
  tasksLimit: 50,
  searchLimit: 20,
  loadRemoteImages: false
};

function limit(value: unknown, fallback: number, max: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1
    ? Math.min(value, max)
    : fallback;
}

/** The sidebar's settings from the composite (defaults + user) values. */
export function readSettings(settings: ISettingRegistry.ISettings): ISidebarSettings {
  const composite = settings.composite as Record<string, unknown>;
  const chosen = (composite['sections'] ?? {}) as Record<string, unknown>;
  const sections = { ...DEFAULT_SETTINGS.sections };
  for (const name of SECTIONS) {
    if (typeof chosen[name] === 'boolean') {
      sections[name] = chosen[name] as boolean;
    }
  }
  const knowledgeBase = composite['knowledgeBase'];
  return {
    knowledgeBase: typeof knowledgeBase === 'string' ? knowledgeBase.trim() : '',
    sections,
    tasksLimit: limit(composite['tasksLimit'], DEFAULT_SETTINGS.tasksLimit, 500),
    searchLimit: limit(composite['searchLimit'], DEFAULT_SETTINGS.searchLimit, 200),
    // Only an explicit true opts in: anything else keeps remote content blocked.
    loadRemoteImages: composite['loadRemoteImages'] === true
  };
}
