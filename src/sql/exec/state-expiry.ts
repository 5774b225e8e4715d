import type Database from 'better-sqlite3';

/**
 * `table.exec.state.ttl` for a {@link DiskStateStore}: when a committed checkpoint last wrote each key of each
 * state, in a table beside the state (`expiry`; not part of a checkpoint's delta). Without a TTL no stamp is kept,
 * and stamps left by a run with one are dropped (they would be stale when one is set again).
 */
export class StateExpiry {
  private readonly stamp: Database.Statement<[string, string, number]>;
  private readonly unstamp: Database.Statement<[string, string]>;
  private readonly due: Database.Statement<[number], { ns: string; key: string }>;

  constructor(
    private readonly db: Database.Database,
    /** 0: nothing expires. */
    readonly ttlMs: number,
    readonly now: () => number,
    /** A query of every `(ns, key)` the state holds: keys written while no TTL was set count from now. */
    keysQuery: string,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS expiry (ns TEXT NOT NULL, key TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (ns, key)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS expiry_at ON expiry (at);`);
    this.stamp = db.prepare('INSERT OR REPLACE INTO expiry (ns, key, at) VALUES (?, ?, ?)');
    this.unstamp = db.prepare('DELETE FROM expiry WHERE ns = ? AND key = ?');
    this.due = db.prepare('SELECT ns, key FROM expiry WHERE at <= ? ORDER BY at');
    if (ttlMs > 0)
      db.prepare(`INSERT OR IGNORE INTO expiry (ns, key, at) SELECT ns, key, ? FROM (${keysQuery})`).run(now());
    else this.clear();
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  /** A change the file takes (inside its transaction): a written key is stamped `at`, a deleted one forgotten. */
  written(ns: string, key: string, deleted: boolean, at: number): void {
    if (deleted) this.unstamp.run(ns, key);
    else if (this.ttlMs > 0) this.stamp.run(ns, key, at);
  }

  /** The keys no checkpoint has written for the TTL, oldest first. */
  expired(): IterableIterator<{ ns: string; key: string }> {
    return this.due.iterate(this.now() - this.ttlMs);
  }

  clear(): void {
    this.db.exec('DELETE FROM expiry');
  }
}
