import { describe, expect, it } from 'vitest';
import {
  unpackEvents,
  type ChangeBatch,
  type ChangeEvent,
  type Row,
  type SourcePosition,
  type StreamEvent,
  type TableSchema,
} from '../../src/core/index.js';
import { TextRowDecoder } from '../../src/connectors/mysql/protocol/text-row-decoder.js';
import { TextRowPacker } from '../../src/connectors/mysql/protocol/text-row-packer.js';
import { rowPayload } from '../harness/text-row-payload.js';
import { silentLogger } from '../../src/runtime/logger.js';
import {
  ChangedKeys,
  DblogMerge,
  startSnapshot,
  type ChunkRange,
  type ChunkRows,
  type LogReader,
  type LogStep,
  type SnapshotChunk,
  type SourceDialect,
} from '../../src/connectors/source-kit/index.js';

/**
 * The source kit's merge with a scripted database (offsets are numbers): the order of chunk rows and log changes
 * that a sink receives, in the cases where a chunk read and the log race each other. The real databases run the
 * same merge in test/source-conformance-*.int.test.ts.
 */

interface Table {
  readonly schema: TableSchema;
}

const items: Table = {
  schema: {
    id: { namespace: 'db', name: 'items' },
    columns: [
      { name: 'id', type: { kind: 'int32' }, nullable: false },
      { name: 'v', type: { kind: 'string' }, nullable: true },
    ],
    primaryKey: ['id'],
  },
};

type Step = LogStep<number>;

/** A log the test feeds: `next()` waits for the next `push`. */
class ScriptedLog implements LogReader<Step> {
  private readonly queue: Step[][] = [];
  private waiter: ((value: { steps: Step[]; caughtUp: boolean } | null) => void) | undefined;
  private closed = false;

  push(...steps: Step[]): void {
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter({ steps, caughtUp: true });
    } else this.queue.push(steps);
  }

  next(): Promise<{ steps: Step[]; caughtUp: boolean } | null> {
    const steps = this.queue.shift();
    if (steps) return Promise.resolve({ steps, caughtUp: true });
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  close(): Promise<void> {
    this.closed = true;
    this.waiter?.(null);
    return Promise.resolve();
  }
}

/** One chunk (the whole table), read when the test says, with the watermarks the test gives. */
class ScriptedChunk {
  started = false;
  /** Reads begun so far (a chunk may be read again). */
  readsStarted = 0;
  private release: ((chunk: { rows: ChunkRows; low: number; high: number }) => void) | undefined;
  private announce: ((high: number) => void) | undefined;

  read(range: ChunkRange<Table>, onHigh: (high: number) => void): Promise<SnapshotChunk<number, Table>> {
    this.started = true;
    this.readsStarted++;
    this.announce = onHigh;
    return new Promise((resolve) => (this.release = (c) => resolve({ range, ...c })));
  }

  /** The high watermark becomes known (MariaDB: when the consistent snapshot starts). */
  high(high: number): void {
    this.announce!(high);
  }

  rows(chunk: { rows: ChunkRows; low: number; high: number }): void {
    this.release!(chunk);
  }
}

function setup(log: ScriptedLog, chunk: ScriptedChunk, detached = false, maxChangedKeys?: number, exact = false) {
  let ranges = 0;
  const dialect: SourceDialect<number, Step, Table> = {
    chunksHoldPulledSteps: exact,
    compareOffsets: (a, b) => a - b,
    openLog: () => Promise.resolve(log),
    openReader: () =>
      Promise.resolve({
        detached,
        readChunk: (range, onHigh) => chunk.read(range, onHigh),
        close: () => Promise.resolve(),
      }),
    openSplitter: () =>
      Promise.resolve({
        splitTable: (table) => ({
          next: () => Promise.resolve(ranges++ === 0 ? { table, lo: null, hi: null } : null),
          skipTo: () => {},
        }),
        close: () => Promise.resolve(),
      }),
  };
  const merge = new DblogMerge<number, Step, Table>({
    log: silentLogger,
    logName: 'log',
    tableFor: (key) => (key === 'db.items' ? items : undefined),
    chunkSize: 100,
    parallelism: 1,
    rowsPerSecond: undefined,
    maxChangedKeys,
    applyStep: (step, out) => {
      if (step.kind === 'rows') {
        out.push({
          kind: 'data',
          table: items.schema.id,
          op: 'update',
          before: step.rows[0]!,
          after: step.rows[1]!,
          source: { tsMs: 0 },
        });
      }
      return Promise.resolve();
    },
    position: () => ({ kind: 'scripted' }),
    snapshotError: (error) => error,
  });
  const events: ChangeEvent[] = [];
  /** The batches' events as the merge handed them over (packed runs not unpacked). */
  const handed: StreamEvent[] = [];
  let iterator: AsyncIterator<ChangeBatch> | undefined;
  const batches: SourcePosition[] = [];
  /** Reads batches until `until` holds. */
  const pump = async (until: () => boolean): Promise<void> => {
    iterator ??= merge.batches([])[Symbol.asyncIterator]();
    while (!until()) {
      const next = await iterator.next();
      if (next.done) return;
      handed.push(...next.value.events);
      events.push(...unpackEvents(next.value.events));
      batches.push(next.value.position);
    }
  };
  /** The position of the last batch handed over (what the runtime would commit). */
  const lastPosition = () => batches[batches.length - 1]!;
  return { merge, dialect, events, handed, pump, lastPosition };
}

/** The sink's view: the last state per key, in delivery order. */
function finalRows(events: readonly ChangeEvent[]): Map<number, Row> {
  const rows = new Map<number, Row>();
  for (const event of events) if (event.kind === 'data' && event.after) rows.set(Number(event.after[0]), event.after);
  return rows;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/** Polls until `condition` holds (the merge and the readers run on promises the test does not hold). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !condition(); i++) await tick();
  expect(condition()).toBe(true);
}

/** `rows` of the items table as a MySQL chunk reader packs them (see TextRowPacker). */
function packed(rows: readonly Row[]): ChunkRows {
  const types = items.schema.columns.map((c) => c.type);
  const packer = new TextRowPacker(types, new TextRowDecoder(types));
  for (const row of rows) {
    const payload = rowPayload(row.map((v) => (v === null ? null : String(v))));
    packer.add(payload, 0, payload.length);
  }
  return packer.take();
}

const reads = (events: readonly ChangeEvent[]) =>
  events.filter((e) => e.kind === 'data' && e.op === 'read').map((e) => (e.kind === 'data' ? e.after : null));

describe('source kit: the DBLog merge', () => {
  /** An update of key 1 while the chunk is being read (at 5, the chunk's snapshot at 10), then one after it (12). */
  const raceChunk = async (exact: boolean) => {
    const log = new ScriptedLog();
    const chunk = new ScriptedChunk();
    const { merge, dialect, events, pump } = setup(log, chunk, false, undefined, exact);
    await merge.start({ dialect, logPosition: 0, snapshotOnly: false, snapshot: startSnapshot(['db.items']) });
    await until(() => chunk.started);
    chunk.high(10);
    log.push(
      { kind: 'begin', start: 4 },
      {
        kind: 'rows',
        table: 'db.items',
        rows: [
          [1, 'old'],
          [1, 'new'],
        ],
        end: 5,
      },
      { kind: 'commit', end: 6 },
    );
    chunk.rows({
      rows: [
        [1, 'new'],
        [2, 'two'],
      ],
      low: 10,
      high: 10,
    });
    log.push({ kind: 'advance', end: 11 });
    await pump(() => reads(events).length > 0);
    log.push(
      { kind: 'begin', start: 11 },
      {
        kind: 'rows',
        table: 'db.items',
        rows: [
          [2, 'two'],
          [2, 'deux'],
        ],
        end: 12,
      },
      { kind: 'commit', end: 13 },
    );
    await pump(() => events.some((e) => e.kind === 'data' && e.op === 'update' && e.after?.[0] === 2));
    await merge.close();
    return events.flatMap((e) =>
      e.kind === 'data'
        ? [
            `${e.op} ${JSON.stringify(e.before)} ${JSON.stringify(e.after)}${e.source.snapshotPending ? ' pending' : ''}`,
          ]
        : [],
    );
  };

  it('chunks that hold every step pulled before them (MariaDB): a change of a row not delivered yet is left to its chunk', async () => {
    // An exact changelog: key 1 reaches the sink once, in the state the chunk read; no retraction of [1, old],
    // which was never delivered. The change after the chunk went out passes as it is.
    expect(await raceChunk(true)).toEqual([
      'read null [1,"new"]',
      'read null [2,"two"]',
      'update [2,"two"] [2,"deux"]',
    ]);
  });

  it('other chunks: a change of a row not delivered yet passes, marked snapshotPending (the row comes again)', async () => {
    // Right for an upsert; a SQL job sees [1, old] taken back though never delivered, and [1, new] twice.
    expect(await raceChunk(false)).toEqual([
      'update [1,"old"] [1,"new"] pending',
      'read null [1,"new"]',
      'read null [2,"two"]',
      'update [2,"two"] [2,"deux"]',
    ]);
  });

  it('a change inside the window emitted before the rows are in hand drops its key from the chunk', async () => {
    const log = new ScriptedLog();
    const chunk = new ScriptedChunk();
    const { merge, dialect, events, pump } = setup(log, chunk);
    await merge.start({ dialect, logPosition: 0, snapshotOnly: false, snapshot: startSnapshot(['db.items']) });
    await until(() => chunk.started);
    chunk.high(10); // known before the rows (the window is (2, 10])
    log.push(
      { kind: 'begin', start: 4 },
      {
        kind: 'rows',
        table: 'db.items',
        rows: [
          [1, 'old'],
          [1, 'new'],
        ],
        end: 5,
      },
      { kind: 'commit', end: 6 },
    );
    await pump(() => events.some((e) => e.kind === 'data' && e.op === 'update'));
    log.push({ kind: 'advance', end: 11 });
    chunk.rows({
      rows: [
        [1, 'old'],
        [2, 'two'],
      ],
      low: 2,
      high: 10,
    });
    await pump(() => reads(events).length > 0);
    await merge.close();

    expect(reads(events)).toEqual([[2, 'two']]);
    expect(finalRows(events)).toEqual(
      new Map([
        [1, [1, 'new']],
        [2, [2, 'two']],
      ]),
    );
    expect(merge.snapshot).toBeUndefined();
  });

  it('a packed chunk goes out as one packed run when the log changed none of its keys', async () => {
    const log = new ScriptedLog();
    const chunk = new ScriptedChunk();
    const { merge, dialect, events, handed, pump } = setup(log, chunk);
    await merge.start({ dialect, logPosition: 0, snapshotOnly: false, snapshot: startSnapshot(['db.items']) });
    await until(() => chunk.started);
    chunk.high(10);
    log.push({ kind: 'advance', end: 11 });
    chunk.rows({
      rows: packed([
        [1, 'a'],
        [2, null],
        [3, 'c'],
      ]),
      low: 10,
      high: 10,
    });
    await pump(() => reads(events).length > 0);
    await merge.close();

    expect(handed.filter((e) => e.kind !== 'schema').map((e) => e.kind)).toEqual(['packed']);
    expect(reads(events)).toEqual([
      [1, 'a'],
      [2, null],
      [3, 'c'],
    ]);
    expect(merge.snapshot).toBeUndefined();
  });

  it('a packed chunk whose keys the log changed inside the window is decoded and loses those rows', async () => {
    const log = new ScriptedLog();
    const chunk = new ScriptedChunk();
    const { merge, dialect, events, handed, pump } = setup(log, chunk);
    await merge.start({ dialect, logPosition: 0, snapshotOnly: false, snapshot: startSnapshot(['db.items']) });
    await until(() => chunk.started);
    chunk.high(10);
    log.push(
      { kind: 'begin', start: 4 },
      {
        kind: 'rows',
        table: 'db.items',
        rows: [
          [1, 'old'],
          [1, 'new'],
        ],
        end: 5,
      },
      { kind: 'commit', end: 6 },
    );
    await pump(() => events.some((e) => e.kind === 'data' && e.op === 'update'));
    log.push({ kind: 'advance', end: 11 });
    chunk.rows({
      rows: packed([
        [1, 'old'],
        [2, 'two'],
      ]),
      low: 2,
      high: 10,
    });
    await pump(() => reads(events).length > 0);
    await merge.close();

    expect(handed.some((e) => e.kind === 'packed')).toBe(false);
    expect(reads(events)).toEqual([[2, 'two']]);
    expect(finalRows(events)).toEqual(
      new Map([
        [1, [1, 'new']],
        [2, [2, 'two']],
      ]),
    );
  });

  it('a change beyond the high watermark waits for the chunk and goes out after its rows', async () => {
    const log = new ScriptedLog();
    const chunk = new ScriptedChunk();
    const { merge, dialect, events, pump } = setup(log, chunk);
    await merge.start({ dialect, logPosition: 0, snapshotOnly: false, snapshot: startSnapshot(['db.items']) });
    await until(() => chunk.started);
    chunk.high(10);
    log.push(
      { kind: 'begin', start: 11 },
      {
        kind: 'rows',
        table: 'db.items',
        rows: [
          [2, 'b'],
          [2, 'newer'],
        ],
        end: 12,
      },
      { kind: 'commit', end: 13 },
    );
    chunk.rows({
      rows: [
        [1, 'a'],
        [2, 'b'],
      ],
      low: 10,
      high: 10,
    });
    await pump(() => events.some((e) => e.kind === 'data' && e.op === 'update'));
    await merge.close();

    expect(events.map((e) => (e.kind === 'data' ? `${e.op} ${String(e.after?.[0])}` : e.kind))).toEqual([
      'read 1',
      'read 2',
      'update 2',
    ]);
    expect(finalRows(events).get(2)).toEqual([2, 'newer']);
  });

  it('a detached chunk (read by a snapshot reader) holds no log step back; keys changed meanwhile leave it', async () => {
    const log = new ScriptedLog();
    const chunk = new ScriptedChunk();
    const { merge, dialect, events, pump } = setup(log, chunk, true);
    await merge.start({ dialect, logPosition: 0, snapshotOnly: false, snapshot: startSnapshot(['db.items']) });
    await until(() => chunk.started);
    // The chunk is out; the log goes on beyond where its watermark will lie, and goes out at once.
    log.push(
      { kind: 'begin', start: 14 },
      {
        kind: 'rows',
        table: 'db.items',
        rows: [
          [1, 'old'],
          [1, 'new'],
        ],
        end: 15,
      },
      { kind: 'commit', end: 16 },
    );
    await pump(() => events.some((e) => e.kind === 'data' && e.op === 'update'));
    expect(reads(events)).toEqual([]);
    // The reader read the chunk at position 10: key 1 as it was then, which the log already moved past.
    chunk.rows({
      rows: [
        [1, 'old'],
        [2, 'two'],
      ],
      low: 10,
      high: 10,
    });
    log.push({ kind: 'advance', end: 17 });
    await pump(() => reads(events).length > 0);
    await merge.close();

    expect(events.map((e) => (e.kind === 'data' ? `${e.op} ${String(e.after?.[0])}` : e.kind))).toEqual([
      'update 1',
      'read 2',
    ]);
    expect(finalRows(events).get(1)).toEqual([1, 'new']);
    expect(merge.snapshot).toBeUndefined();
  });

  it('a detached chunk out while more keys change than it may remember is read again, at a later watermark', async () => {
    const log = new ScriptedLog();
    const chunk = new ScriptedChunk();
    const { merge, dialect, events, pump } = setup(log, chunk, true, 2);
    await merge.start({ dialect, logPosition: 0, snapshotOnly: false, snapshot: startSnapshot(['db.items']) });
    await until(() => chunk.started);
    // Three keys change while the chunk is out: one more than it keeps.
    let offset = 10;
    for (const id of [1, 2, 3]) {
      log.push(
        { kind: 'begin', start: offset++ },
        {
          kind: 'rows',
          table: 'db.items',
          rows: [
            [id, 'old'],
            [id, 'new'],
          ],
          end: offset++,
        },
        { kind: 'commit', end: offset++ },
      );
    }
    await pump(() => events.filter((e) => e.kind === 'data' && e.op === 'update').length === 3);
    // The reader's copy is from before the changes: it must not go out (it would undo them).
    chunk.rows({
      rows: [
        [1, 'old'],
        [2, 'old'],
        [3, 'old'],
        [4, 'four'],
      ],
      low: 5,
      high: 5,
    });
    const pumped = pump(() => reads(events).length > 0);
    await until(() => chunk.readsStarted === 2);
    chunk.rows({
      rows: [
        [1, 'new'],
        [2, 'new'],
        [3, 'new'],
        [4, 'four'],
      ],
      low: 30,
      high: 30,
    });
    log.push({ kind: 'advance', end: 31 });
    await pumped;
    await merge.close();

    expect(reads(events)).toEqual([
      [1, 'new'],
      [2, 'new'],
      [3, 'new'],
      [4, 'four'],
    ]);
    expect([...finalRows(events).values()].map((r) => r[1])).toEqual(['new', 'new', 'new', 'four']);
    expect(merge.snapshot).toBeUndefined();
  });

  it('a chunk out of hand keeps only the changed keys inside its range, each once', () => {
    const range: ChunkRange<Table> = { table: items, lo: [10], hi: [20] };
    const keys = new ChangedKeys(range, 100);
    keys.note([
      [5, 'a'],
      [10, 'a'],
      [15, 'a'],
      [15, 'b'],
      [20, 'a'],
      [21, 'a'],
      [25n, 'a'],
      [18n, 'a'],
    ]);
    expect(keys.size).toBe(3); // 15, 20, 18
    const open = new ChangedKeys({ table: items, lo: null, hi: null }, 2);
    open.note([
      [1, 'a'],
      [2, 'a'],
    ]);
    expect(open.overflowed).toBe(false);
    open.note([[3, 'a']]);
    expect(open.overflowed).toBe(true);
    expect(open.size).toBe(0);
  });

  it('a repair chunk: rows as upserts, a sink-only key deleted unless the window changed it, done once committed', async () => {
    const log = new ScriptedLog();
    const chunk = new ScriptedChunk();
    const { merge, dialect, events, pump, lastPosition } = setup(log, chunk);
    await merge.start({ dialect, logPosition: 0, snapshotOnly: false, snapshot: undefined });
    let outcome: unknown;
    const repair = merge.repair(items, [
      {
        lo: null,
        hi: null,
        deletes: [
          [7, null],
          [8, null],
        ],
      },
    ]);
    void repair.then((o) => (outcome = o));
    await until(() => chunk.started);
    chunk.high(10);
    // Key 8 comes back at the source inside the window: the log has it, so it is neither deleted nor taken
    // from the chunk's copy.
    log.push(
      { kind: 'begin', start: 4 },
      {
        kind: 'rows',
        table: 'db.items',
        rows: [
          [8, 'old'],
          [8, 'back'],
        ],
        end: 5,
      },
      { kind: 'commit', end: 6 },
    );
    chunk.rows({
      rows: [
        [1, 'one'],
        [8, 'old'],
      ],
      low: 2,
      high: 10,
    });
    log.push({ kind: 'advance', end: 11 });
    await pump(() => events.some((e) => e.kind === 'data' && e.op === 'delete'));
    const data = events.flatMap((e) => (e.kind === 'data' ? [[e.op, e.before, e.after]] : []));
    expect(data).toEqual([
      ['update', [8, 'old'], [8, 'back']],
      ['update', null, [1, 'one']],
      ['delete', [7, null], null],
    ]);
    await tick();
    expect(outcome).toBeUndefined(); // not committed yet
    merge.committed(lastPosition());
    await until(() => outcome !== undefined);
    expect(outcome).toEqual({ upserted: 1, deleted: 1 });
    expect(merge.snapshot).toBeUndefined(); // a repair is not a snapshot
    await merge.close();
  });

  it('a repair the source closes before it is committed fails with REPAIR_INTERRUPTED', async () => {
    const log = new ScriptedLog();
    const chunk = new ScriptedChunk();
    const { merge, dialect } = setup(log, chunk);
    await merge.start({ dialect, logPosition: 0, snapshotOnly: false, snapshot: undefined });
    const repair = merge.repair(items, [{ lo: null, hi: null, deletes: [] }]);
    await until(() => chunk.started);
    await merge.close();
    await expect(repair).rejects.toMatchObject({ code: 'REPAIR_INTERRUPTED' });
  });
});
