/** The NodeSpace sidebar, split into its parts (see panel.ts for how they compose). */
export { NodeSpaceSidebar } from './panel';
export type { OpenHandler } from './context';
