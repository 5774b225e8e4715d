import type { ChangeEvent } from '../../src/core/change-event.js';
import type { Checkpoint, Sink } from '../../src/core/sink.js';
import type { ChangeBatch, Source, SourcePosition, SourceProgress } from '../../src/core/source.js';
import { tableId } from '../../src/core/table-schema.js';

/**
 * A source and a sink in memory, for driving `runPipeline` in unit tests the way real connectors would: the
 * source resumes after the position of the last committed batch, the sink keeps its checkpoint with the data it
 * committed (so a replay shows any loss or duplicate). Each test adds its fault through the sink's hooks.
 */

export const ORDERS = tableId('shop', 'orders');

/** An insert of the row `[id]` into shop.orders. */
export const orderInsert = (id: number): ChangeEvent => ({
  kind: 'data',
  table: ORDERS,
  op: 'insert',
  before: null,
  after: [BigInt(id)],
  source: { tsMs: 1 },
});

const streaming: SourceProgress = {
  phase: 'streaming',
  snapshotTablesDone: 0,
  snapshotTablesTotal: 0,
  snapshotRowsRead: 0,
  logPosition: '',
  lagMs: 0,
};

/**
 * A source whose batches `script` makes, given where the pipeline resumes (null on a first run) and whether the
 * source was closed (a live script runs until then).
 */
export function scriptedSource(
  script: (resume: SourcePosition | null, closed: () => boolean) => AsyncIterable<ChangeBatch>,
): Source {
  let resume: SourcePosition | null = null;
  let closed = false;
  return {
    validate: () => Promise.resolve({ tables: [], checks: [] }),
    open: (position) => {
      resume = position;
      return Promise.resolve();
    },
    batches: () => script(resume, () => closed),
    progress: () => streaming,
    close: () => {
      closed = true;
      return Promise.resolve();
    },
  };
}

export interface ListSourceOptions {
  /** Which batches say the source has caught up (the runner commits after such a batch): each, or the last. */
  readonly caughtUp: 'each' | 'last';
  /** Whether a resumed run starts after the batch of the checkpoint (`{ batch: i }`); else always at the first. */
  readonly resumes?: boolean;
  /** A pause before each batch, in ms (0: a microtask). */
  readonly pauseMs?: number;
}

/** A bounded source: `batches`, each at position `{ batch: i }`, then the end. */
export function listSource(batches: readonly (readonly ChangeEvent[])[], options: ListSourceOptions): Source {
  return scriptedSource(async function* (resume) {
    const from = options.resumes !== false && resume !== null ? Number(resume['batch']) + 1 : 0;
    for (let i = from; i < batches.length; i++) {
      await (options.pauseMs ? new Promise((resolve) => setTimeout(resolve, options.pauseMs)) : Promise.resolve());
      const caughtUp = options.caughtUp === 'each' || i === batches.length - 1;
      yield { events: batches[i]!, position: { batch: i }, caughtUp };
    }
  });
}

export interface MemorySinkHooks {
  /**
   * Runs on each event written, before it is kept; a throw rejects the write with the events before it kept (a
   * sink that undoes a change it cannot apply, and keeps the transaction).
   */
  readonly write?: (event: ChangeEvent) => void;
  /** Runs on each commit with its events before they are kept; a throw or rejection fails the commit. */
  readonly commit?: (checkpoint: Checkpoint, events: readonly ChangeEvent[]) => void | Promise<void>;
}

/** A sink in memory that keeps the events it committed and, through JSON as a database would, its checkpoint. */
export class MemorySink implements Sink {
  /** Every event committed, in order. */
  committed: ChangeEvent[] = [];
  checkpoint: Checkpoint | null = null;
  /** How many times the sink was opened (one per attempt of the runner). */
  opens = 0;
  private pendingEvents: ChangeEvent[] = [];

  constructor(
    private readonly hooks: MemorySinkHooks = {},
    /** The sink option `commit.max-tables`, when set. */
    readonly maxTablesPerCommit?: number,
  ) {}

  /** The first column of each committed row, as numbers. */
  get rows(): number[] {
    return this.committed.flatMap((e) => (e.kind === 'data' && e.after !== null ? [Number(e.after[0])] : []));
  }

  validate(): Promise<void> {
    return Promise.resolve();
  }
  open(): Promise<Checkpoint | null> {
    this.opens++;
    this.pendingEvents = [];
    return Promise.resolve(this.checkpoint);
  }
  write(events: readonly ChangeEvent[]): Promise<void> {
    for (const event of events) {
      try {
        this.hooks.write?.(event);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      this.pendingEvents.push(event);
    }
    return Promise.resolve();
  }
  pending(): number {
    return this.pendingEvents.length;
  }
  async commit(checkpoint: Checkpoint): Promise<void> {
    const events = this.pendingEvents;
    await this.hooks.commit?.(checkpoint, events);
    this.committed.push(...events);
    this.pendingEvents = [];
    this.checkpoint = JSON.parse(JSON.stringify(checkpoint)) as Checkpoint;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
