import Database from 'better-sqlite3';
import type { ChangeEvent } from '../../src/core/change-event.js';
import type { Operator, OperatorState } from '../../src/core/operator.js';
import { DiskStateStore, type CommittedState } from '../../src/sql/exec/disk-state.js';

/**
 * An operator for the runner's tests of the SQL state file: it counts events per id % 3 in a keyed state on disk in
 * `dir`, as a SQL aggregate would, and passes them on; `processed` counts the events it saw.
 */
export function stateCounter(dir: string): Operator & { processed: number } {
  const store = DiskStateStore.open(dir, 'plan');
  const state = store.keyed('n', { toJson: (v: number) => v, fromJson: (j) => j as number });
  const operator = {
    processed: 0,
    process: (events: readonly ChangeEvent[]) => {
      for (const event of events) {
        if (event.kind !== 'data') continue;
        const key = String(Number(event.after![0]) % 3);
        state.set(key, (state.get(key) ?? 0) + 1);
        operator.processed++;
      }
      store.endBatch();
      return [...events];
    },
    snapshotState: async () => ({ state: await store.snapshot() }),
    restoreState: (saved: OperatorState) => store.restore(saved['state'] as CommittedState),
    checkpointCommitted: () => store.committed(),
    close: () => store.close(),
  };
  return operator;
}

/** The counts the state file `file` holds, by key. */
export function stateCounts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true });
  const rows = db.prepare<[], { key: string; value: string }>("SELECT key, value FROM entries WHERE ns = 'n'").all();
  db.close();
  return Object.fromEntries(rows.map((r) => [r.key, Number(r.value)]));
}
