/**
 * Every knowledge-base operation: GENERATED from nodespace_lab/kb/facets.py by
 * `python -m nodespace_lab.kb.typescript`; do not edit by hand.
 */

/** The name of any operation. */
export type OperationName =
  | 'create'
  | 'get'
  | 'exists'
  | 'update'
  | 'delete'
  | 'restore'
  | 'purge'
  | 'journal'
  | 'import_nodes'
  | 'children'
  | 'child_counts'
  | 'subtree'
  | 'ancestors'
  | 'move'
  | 'backlinks'
  | 'links'
  | 'tag'
  | 'untag'
  | 'tags'
  | 'add_to'
  | 'remove_from'
  | 'members'
  | 'collections'
  | 'find'
  | 'find_frame'
  | 'open_tasks'
  | 'engine'
  | 'cypher'
  | 'seq'
  | 'changes'
  | 'subscribe'
  | 'follow'
  | 'live_registry'
  | 'live'
  | 'undo'
  | 'transaction'
  | 'search'
  | 'sync_search'
  | 'reindex'
  | 'define'
  | 'define_file'
  | 'schema'
  | 'schemas'
  | 'entity_values'
  | 'add_field'
  | 'rename_field'
  | 'change_field'
  | 'remove_field'
  | 'delete_kind'
  | 'check_calculated'
  | 'recalculate'
  | 'ask'
  | 'draft_task'
  | 'draft_query'
  | 'ai_status'
  | 'components';

/** The operations a client calls as `POST kb/<name>`. */
export type CallOperation =
  | 'create'
  | 'get'
  | 'exists'
  | 'update'
  | 'delete'
  | 'restore'
  | 'purge'
  | 'journal'
  | 'import_nodes'
  | 'children'
  | 'child_counts'
  | 'subtree'
  | 'ancestors'
  | 'move'
  | 'backlinks'
  | 'links'
  | 'tag'
  | 'untag'
  | 'tags'
  | 'add_to'
  | 'remove_from'
  | 'members'
  | 'collections'
  | 'find_frame'
  | 'open_tasks'
  | 'engine'
  | 'cypher'
  | 'seq'
  | 'changes'
  | 'undo'
  | 'search'
  | 'sync_search'
  | 'reindex'
  | 'define'
  | 'schema'
  | 'schemas'
  | 'entity_values'
  | 'add_field'
  | 'rename_field'
  | 'change_field'
  | 'remove_field'
  | 'delete_kind'
  | 'check_calculated'
  | 'recalculate'
  | 'components';

/** How each operation is declared: facet, read or write, capability, transport. */
export interface IOperation {
  facet: string;
  access: 'read' | 'write';
  capability: 'read' | 'write' | 'ai' | 'files';
  transport: 'call' | 'ai' | 'feed' | 'client';
}

/** The operation table. */
export const OPERATIONS: Record<OperationName, IOperation> = {
  create: { facet: 'NodesAPI', access: 'write', capability: 'write', transport: 'call' },
  get: { facet: 'NodesAPI', access: 'read', capability: 'read', transport: 'call' },
  exists: { facet: 'NodesAPI', access: 'read', capability: 'read', transport: 'call' },
  update: { facet: 'NodesAPI', access: 'write', capability: 'write', transport: 'call' },
  delete: { facet: 'NodesAPI', access: 'write', capability: 'write', transport: 'call' },
  restore: { facet: 'NodesAPI', access: 'write', capability: 'write', transport: 'call' },
  purge: { facet: 'NodesAPI', access: 'write', capability: 'write', transport: 'call' },
  journal: { facet: 'NodesAPI', access: 'write', capability: 'write', transport: 'call' },
  import_nodes: { facet: 'NodesAPI', access: 'write', capability: 'write', transport: 'call' },
  children: { facet: 'HierarchyAPI', access: 'read', capability: 'read', transport: 'call' },
  child_counts: { facet: 'HierarchyAPI', access: 'read', capability: 'read', transport: 'call' },
  subtree: { facet: 'HierarchyAPI', access: 'read', capability: 'read', transport: 'call' },
  ancestors: { facet: 'HierarchyAPI', access: 'read', capability: 'read', transport: 'call' },
  move: { facet: 'HierarchyAPI', access: 'write', capability: 'write', transport: 'call' },
  backlinks: { facet: 'LinksAPI', access: 'read', capability: 'read', transport: 'call' },
  links: { facet: 'LinksAPI', access: 'read', capability: 'read', transport: 'call' },
  tag: { facet: 'LinksAPI', access: 'write', capability: 'write', transport: 'call' },
  untag: { facet: 'LinksAPI', access: 'write', capability: 'write', transport: 'call' },
  tags: { facet: 'LinksAPI', access: 'read', capability: 'read', transport: 'call' },
  add_to: { facet: 'LinksAPI', access: 'write', capability: 'write', transport: 'call' },
  remove_from: { facet: 'LinksAPI', access: 'write', capability: 'write', transport: 'call' },
  members: { facet: 'LinksAPI', access: 'read', capability: 'read', transport: 'call' },
  collections: { facet: 'LinksAPI', access: 'read', capability: 'read', transport: 'call' },
  find: { facet: 'QueryAPI', access: 'read', capability: 'read', transport: 'client' },
  find_frame: { facet: 'QueryAPI', access: 'read', capability: 'read', transport: 'call' },
  open_tasks: { facet: 'QueryAPI', access: 'read', capability: 'read', transport: 'call' },
  engine: { facet: 'QueryAPI', access: 'read', capability: 'read', transport: 'call' },
  cypher: { facet: 'QueryAPI', access: 'read', capability: 'read', transport: 'call' },
  seq: { facet: 'HistoryAPI', access: 'read', capability: 'read', transport: 'call' },
  changes: { facet: 'HistoryAPI', access: 'read', capability: 'read', transport: 'call' },
  subscribe: { facet: 'HistoryAPI', access: 'read', capability: 'read', transport: 'feed' },
  follow: { facet: 'HistoryAPI', access: 'read', capability: 'read', transport: 'feed' },
  live_registry: { facet: 'HistoryAPI', access: 'read', capability: 'read', transport: 'feed' },
  live: { facet: 'HistoryAPI', access: 'read', capability: 'read', transport: 'feed' },
  undo: { facet: 'HistoryAPI', access: 'write', capability: 'write', transport: 'call' },
  transaction: { facet: 'HistoryAPI', access: 'write', capability: 'write', transport: 'client' },
  search: { facet: 'SearchAPI', access: 'read', capability: 'read', transport: 'call' },
  sync_search: { facet: 'SearchAPI', access: 'write', capability: 'write', transport: 'call' },
  reindex: { facet: 'SearchAPI', access: 'write', capability: 'write', transport: 'call' },
  define: { facet: 'EntitiesAPI', access: 'write', capability: 'write', transport: 'call' },
  define_file: { facet: 'EntitiesAPI', access: 'write', capability: 'files', transport: 'client' },
  schema: { facet: 'EntitiesAPI', access: 'read', capability: 'read', transport: 'call' },
  schemas: { facet: 'EntitiesAPI', access: 'read', capability: 'read', transport: 'call' },
  entity_values: { facet: 'EntitiesAPI', access: 'read', capability: 'read', transport: 'call' },
  add_field: { facet: 'EntitiesAPI', access: 'write', capability: 'write', transport: 'call' },
  rename_field: { facet: 'EntitiesAPI', access: 'write', capability: 'write', transport: 'call' },
  change_field: { facet: 'EntitiesAPI', access: 'write', capability: 'write', transport: 'call' },
  remove_field: { facet: 'EntitiesAPI', access: 'write', capability: 'write', transport: 'call' },
  delete_kind: { facet: 'EntitiesAPI', access: 'write', capability: 'write', transport: 'call' },
  check_calculated: { facet: 'EntitiesAPI', access: 'read', capability: 'read', transport: 'call' },
  recalculate: { facet: 'EntitiesAPI', access: 'write', capability: 'write', transport: 'call' },
  ask: { facet: 'AIAPI', access: 'write', capability: 'ai', transport: 'ai' },
  draft_task: { facet: 'AIAPI', access: 'read', capability: 'ai', transport: 'ai' },
  draft_query: { facet: 'AIAPI', access: 'read', capability: 'ai', transport: 'ai' },
  ai_status: { facet: 'AIAPI', access: 'read', capability: 'ai', transport: 'ai' },
  components: { facet: 'SystemAPI', access: 'read', capability: 'read', transport: 'call' },
};
