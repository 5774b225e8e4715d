import type Database from 'better-sqlite3';

/** One entry of a state that may expire: a map state's `(key, sub)`, or a keyed state's key with sub ''. */
export interface ExpiringEntry {
  ns: string;
  key: string;
  sub: string;
}

/**
 * `table.exec.state.ttl` for a {@link DiskStateStore}: when a committed checkpoint last wrote each entry of each
 * state — per `(key, sub)`, as Flink's TTL of a MapState is per map entry — in a table beside the state (`expiry`;
 * not part of a checkpoint's delta; the writer stamps each entry it writes, `stateFileApplier`). Without a TTL no stamp is kept, and stamps left by a run with one are dropped
 * (they would be stale when one is set again).
 */
export class StateExpiry {
  private readonly due: Database.Statement<[number], ExpiringEntry>;

  constructor(
    private readonly db: Database.Database,
    /** 0: nothing expires. */
    readonly ttlMs: number,
    readonly now: () => number,
    /** A query of every `(ns, key, sub)` the state holds: entries written while no TTL was set count from now. */
    entriesQuery: string,
  ) {
    // A table of stamps per key (before map states had entries of their own) is dropped: its state was per key too.
    const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('expiry')").all();
    if (columns.length > 0 && !columns.some((c) => c.name === 'sub')) db.exec('DROP TABLE expiry');
    db.exec(`CREATE TABLE IF NOT EXISTS expiry (ns TEXT NOT NULL, key TEXT NOT NULL, sub TEXT NOT NULL,
        at INTEGER NOT NULL, PRIMARY KEY (ns, key, sub)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS expiry_at ON expiry (at);`);
    this.due = db.prepare('SELECT ns, key, sub FROM expiry WHERE at <= ? ORDER BY at');
    if (ttlMs > 0)
      db.prepare(`INSERT OR IGNORE INTO expiry (ns, key, sub, at) SELECT ns, key, sub, ? FROM (${entriesQuery})`).run(
        now(),
      );
    else this.clear();
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  /** The entries no checkpoint has written for the TTL, oldest first. */
  expired(): IterableIterator<ExpiringEntry> {
    return this.due.iterate(this.now() - this.ttlMs);
  }

  clear(): void {
    this.db.exec('DELETE FROM expiry');
  }
}
