/**
 * The kinds of change-log operation: GENERATED from nodespace_lab/graph/opkinds.py
 * by `python -m nodespace_lab.kb.typescript_opkinds`; do not edit by hand.
 */

/** The name of any operation kind. */
export type OpKindName =
  | 'create'
  | 'update'
  | 'move'
  | 'delete'
  | 'restore'
  | 'purge'
  | 'member+'
  | 'member-'
  | 'import'
  | 'unimport'
  | 'repair'
  | 'cypher'
  | 'calc'
  | 'recalc'
  | 'schema';

/** What an operation of a kind is about (see graph/opkinds.py). */
export type OpCategory =
  | 'row'
  | 'edge'
  | 'batch'
  | 'derived'
  | 'schema';

/** How each kind is declared; `bulk`: it names no node one by one. */
export interface IOpKind {
  category: OpCategory;
  bulk: boolean;
}

/** Every declared kind. */
export const OP_KINDS: Record<OpKindName, IOpKind> = {
  /** A node was created; `after` is its row. */
  'create': { category: 'row', bulk: false },
  /** A node's fields changed (not its place or status). */
  'update': { category: 'row', bulk: false },
  /** A node got another parent or position. */
  'move': { category: 'row', bulk: false },
  /** A node was soft-deleted (status 'deleted'). */
  'delete': { category: 'row', bulk: false },
  /** A soft-deleted node became active again. */
  'restore': { category: 'row', bulk: false },
  /** A node was removed for good; `before` is its row. */
  'purge': { category: 'row', bulk: false },
  /** A node was added to a tag or collection. */
  'member+': { category: 'edge', bulk: false },
  /** A node left a tag or collection. */
  'member-': { category: 'edge', bulk: false },
  /** Nodes were bulk-imported; `count` says how many. */
  'import': { category: 'batch', bulk: true },
  /** An import was undone; `count` nodes removed. */
  'unimport': { category: 'batch', bulk: true },
  /** `nodespace doctor` rebuilt derived edges. */
  'repair': { category: 'batch', bulk: true },
  /** A raw Cypher write; `target` holds the query. */
  'cypher': { category: 'batch', bulk: true },
  /** One node's calculated fields were recomputed. */
  'calc': { category: 'derived', bulk: false },
  /** Calculated fields were recomputed for many nodes. */
  'recalc': { category: 'derived', bulk: true },
  /** An entity kind's schema was defined or changed. */
  'schema': { category: 'schema', bulk: false },
};

/** The category of the operation kind `name` (undefined for an unknown one). */
export function opCategory(name: string): OpCategory | undefined {
  return (OP_KINDS as Record<string, IOpKind | undefined>)[name]?.category;
}

/** True for a kind after which any node may have changed (import, Cypher write...). */
export function isBulkOp(name: string): boolean {
  return (OP_KINDS as Record<string, IOpKind | undefined>)[name]?.bulk ?? false;
}
