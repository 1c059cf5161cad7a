/**
 * The sidebar's one update bus: change sets of the feed and local events (a write
 * made here, a setting shown) mark what needs a reload; the parts that subscribed
 * reload it together, once per burst of changes.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { IChangeSet } from '../api';
import { opCategory } from '../opkinds';

/** Key of the top level in the outline's child lists (node ids are never empty). */
export const ROOT = '';

/** Changes arriving this close together are applied in one refresh. */
const COALESCE_MS = 15;

/** The key of a node's parent in the outline's child lists. */
export function parentKey(parentId: unknown): string {
  return typeof parentId === 'string' ? parentId : ROOT;
}

/** What a batch of changes asks to reload. */
export class Pending {
  all = false;
  tasks = false;
  today = false;
  search = false;
  details = false;
  parents = new Set<string>();
}

/** A part that reloads on the bus: it starts its reloads for `pending` (`all`: everything). */
export interface IBusPart {
  reload(pending: Pending): Promise<void>[];
}

/**
 * Mark in `pending` what one change set asks to reload. `todayId` is the journal page
 * shown, whose entries the Today section lists.
 */
export function interpretChange(
  change: IChangeSet,
  pending: Pending,
  todayId: string | null
): void {
  pending.details = true; // backlinks and tags of the selected node may have changed
  for (const op of change.ops) {
    const rows = [op.before, op.after].filter(
      (row): row is Record<string, unknown> => row !== null && row !== undefined
    );
    if (rows.length === 0 && opCategory(op.op) !== 'edge') {
      pending.all = true; // import, raw Cypher: no row images to go by
    }
    for (const row of rows) {
      pending.parents.add(parentKey(row['parent_id']));
      pending.tasks ||= row['kind'] === 'task';
      pending.today ||= todayId !== null && row['parent_id'] === todayId;
    }
    pending.tasks ||= op.kind === 'task';
    pending.today ||= todayId !== null && op.id === todayId;
    pending.search = true;
  }
}

/** Collects what is pending and hands it to the subscribed parts, coalesced. */
export class UpdateBus {
  /** What the next flush reloads; parts and writes add to it. */
  get pending(): Pending {
    return this._pending;
  }

  /** A flush is scheduled or under way (the outline shows `aria-busy`). */
  get busy(): boolean {
    return this.timer !== 0 || this.flushing > 0;
  }

  get busyChanged(): ISignal<this, void> {
    return this._busyChanged;
  }

  /** Parts reload in the order they subscribed (the outline first). */
  subscribe(part: IBusPart): void {
    this.parts.push(part);
  }

  /** Called with every failure of a flush that is not strict. */
  onError: (error: unknown) => void = () => undefined;

  /** Flush soon, together with whatever else arrives meanwhile. */
  schedule(): void {
    if (this.timer === 0) {
      this.timer = window.setTimeout(() => void this.flush(), COALESCE_MS);
      this._busyChanged.emit();
    }
  }

  /** Apply what is pending now; `strict`: a failed reload rejects (else it is reported). */
  async flush(strict = false): Promise<void> {
    window.clearTimeout(this.timer);
    this.timer = 0;
    this.flushing++;
    this._busyChanged.emit();
    try {
      await this.run(this.take(), strict);
    } finally {
      this.flushing--;
      this._busyChanged.emit();
    }
  }

  /** Forget what is pending (the knowledge base changed). */
  reset(): void {
    this._pending = new Pending();
  }

  dispose(): void {
    window.clearTimeout(this.timer);
    this.timer = 0;
  }

  private take(): Pending {
    const pending = this._pending;
    this._pending = new Pending();
    return pending;
  }

  private async run(pending: Pending, strict: boolean): Promise<void> {
    const work = this.parts.flatMap(part => part.reload(pending));
    const results = await Promise.allSettled(work);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed && strict) {
      throw failed.reason;
    } else if (failed) {
      this.onError(failed.reason);
    }
  }

  private readonly parts: IBusPart[] = [];
  private readonly _busyChanged = new Signal<this, void>(this);
  private _pending = new Pending();
  private timer = 0;
  private flushing = 0;
}
