import { describe, expect, it } from 'vitest';
import { unpackEvents, type ChangeEvent, type Row, type TableSchema } from '../../src/core/index.js';
import { silentLogger } from '../../src/runtime/logger.js';
import {
  DblogMerge,
  startSnapshot,
  type ChunkRange,
  type LogReader,
  type LogStep,
  type SnapshotChunk,
  type SourceDialect,
} from '../../src/connectors/source-kit/index.js';

/**
 * Small tables read together: a reader that can read several ranges in one watermark window gets the next tables'
 * ranges while each is known to be small and together they hold at most a chunk's rows. Every row still arrives
 * once, and the DBLog rule (a change inside the window drops its key from the chunk) holds for each of them.
 */

interface Table {
  readonly schema: TableSchema;
}

const tableNamed = (name: string): Table => ({
  schema: {
    id: { namespace: 'db', name },
    columns: [
      { name: 'id', type: { kind: 'int32' }, nullable: false },
      { name: 'v', type: { kind: 'string' }, nullable: true },
    ],
    primaryKey: ['id'],
  },
});

type Step = LogStep<number>;

/** A source of tables with `rows[name]` rows each, split into ranges of at most `chunkSize` keys. */
function database(sizes: Record<string, number>, options: { known: (name: string) => boolean; chunkSize: number }) {
  const tables = new Map(Object.keys(sizes).map((name) => [`db.${name}`, tableNamed(name)]));
  const reads: string[][] = [];
  let high = 0;
  const rowsOf = (range: ChunkRange<Table>): Row[] => {
    const name = range.table.schema.id.name;
    const lo = range.lo ? Number(range.lo[0]) : 0;
    const hi = range.hi ? Number(range.hi[0]) : sizes[name]!;
    return Array.from({ length: Math.max(0, hi - lo) }, (_, i) => [lo + i + 1, `${name}-${lo + i + 1}`]);
  };
  const chunk = (range: ChunkRange<Table>, at: number): SnapshotChunk<number, Table> => ({
    range,
    rows: rowsOf(range),
    low: at,
    high: at,
  });
  const dialect: SourceDialect<number, Step, Table> = {
    compareOffsets: (a, b) => a - b,
    openLog: () => Promise.reject(new Error('snapshot only')),
    openReader: () =>
      Promise.resolve({
        readChunk: (range, onHigh) => {
          reads.push([range.table.schema.id.name]);
          onHigh(++high);
          return Promise.resolve(chunk(range, high));
        },
        readChunks: (ranges, onHigh) => {
          reads.push(ranges.map((r) => r.table.schema.id.name));
          onHigh(++high);
          return Promise.resolve(ranges.map((range) => chunk(range, high)));
        },
        close: () => Promise.resolve(),
      }),
    openSplitter: () =>
      Promise.resolve({
        splitTable: (table) => {
          const name = table.schema.id.name;
          let lo = 0;
          return {
            next: () => {
              const total = sizes[name]!;
              if (lo > total || (lo === total && lo > 0)) return Promise.resolve(null);
              const hi = lo + options.chunkSize >= total ? null : lo + options.chunkSize;
              const range: ChunkRange<Table> = {
                table,
                lo: lo === 0 ? null : [lo],
                hi: hi === null ? null : [hi],
                ...(options.known(name) ? { rows: (hi ?? total) - lo } : {}),
              };
              lo = hi ?? total + 1;
              return Promise.resolve(range);
            },
            skipTo: () => {},
          };
        },
        close: () => Promise.resolve(),
      }),
  };
  return { tables, reads, dialect };
}

async function snapshotAll(sizes: Record<string, number>, known: (name: string) => boolean, chunkSize = 100) {
  const db = database(sizes, { known, chunkSize });
  const merge = new DblogMerge<number, Step, Table>({
    log: silentLogger,
    logName: 'log',
    tableFor: (key) => db.tables.get(key),
    chunkSize,
    parallelism: 1,
    rowsPerSecond: undefined,
    applyStep: () => Promise.resolve(),
    position: () => ({ kind: 'scripted' }),
    snapshotError: (error) => error,
  });
  await merge.start({
    dialect: db.dialect,
    logPosition: 0,
    snapshotOnly: true,
    snapshot: startSnapshot([...db.tables.keys()]),
  });
  const events: ChangeEvent[] = [];
  for await (const batch of merge.batches([])) events.push(...unpackEvents(batch.events));
  await merge.close();
  const rows = events.flatMap((e) =>
    e.kind === 'data' && e.op === 'read' ? [`${e.table.name}:${String(e.after![0])}`] : [],
  );
  return { reads: db.reads, rows, done: merge.snapshot === undefined };
}

describe('source kit: small tables read in one watermark window', () => {
  it('groups tables known to be small up to a chunk of rows, and delivers every row once', async () => {
    const sizes = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`t${i}`, 30]));
    const { reads, rows, done } = await snapshotAll(sizes, () => true);
    expect(done).toBe(true);
    // 30 rows each, 100 rows per chunk: three tables per read, the last read takes the one left.
    expect(reads).toEqual([['t0', 't1', 't2'], ['t3', 't4', 't5'], ['t6', 't7', 't8'], ['t9']]);
    expect(rows).toHaveLength(300);
    expect(new Set(rows).size).toBe(300);
  });

  it('reads alone a table of unknown size, and a big table chunk by chunk, losing no range that did not fit', async () => {
    const sizes = { a: 20, big: 250, b: 20, unknown: 20, c: 20 };
    const { reads, rows, done } = await snapshotAll(sizes, (name) => name !== 'unknown');
    expect(done).toBe(true);
    expect(reads.flat().filter((t) => t === 'big')).toHaveLength(3); // 100 + 100 + 50
    for (const read of reads) if (read.length > 1) expect(read).not.toContain('unknown');
    expect(reads.some((read) => read.length > 1)).toBe(true);
    const expected = Object.entries(sizes).flatMap(([t, n]) => Array.from({ length: n }, (_, i) => `${t}:${i + 1}`));
    expect([...rows].sort()).toEqual(expected.sort());
  });
});

describe('source kit: reading ahead', () => {
  it('reads one chunk ahead, and no further, while the pipeline has not taken the last batch of read rows', async () => {
    const db = database({ big: 1000 }, { known: () => true, chunkSize: 100 });
    const merge = new DblogMerge<number, Step, Table>({
      log: silentLogger,
      logName: 'log',
      tableFor: (key) => db.tables.get(key),
      chunkSize: 100,
      parallelism: 1,
      rowsPerSecond: undefined,
      applyStep: () => Promise.resolve(),
      position: () => ({ kind: 'scripted' }),
      snapshotError: (error) => error,
    });
    await merge.start({ dialect: db.dialect, logPosition: 0, snapshotOnly: true, snapshot: startSnapshot(['db.big']) });
    const batches = merge.batches([])[Symbol.asyncIterator]();
    const rows: string[] = [];
    const take = (events: readonly ChangeEvent[]) => {
      for (const e of events) if (e.kind === 'data') rows.push(String(e.after![0]));
    };
    let next = await batches.next();
    while (!next.done && !next.value.events.some((e) => e.kind === 'data')) next = await batches.next();
    if (next.done) throw new Error('the snapshot ended without rows');
    take(unpackEvents(next.value.events));
    // The pipeline holds a batch of read rows (the sink is still writing the one before): the one reader reads the
    // next chunk, so that it is ready when the sink is, and then waits: the rows in memory stay at two chunks
    // (`parallelism` + 1), however long the sink takes.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(db.reads).toHaveLength(2);
    for (next = await batches.next(); !next.done; next = await batches.next()) take(unpackEvents(next.value.events));
    await merge.close();
    expect(merge.snapshot).toBeUndefined();
    expect(rows).toHaveLength(1000);
    expect(new Set(rows).size).toBe(1000);
  });
});

/** A log the test feeds: `next()` waits for the next `push`. */
class ScriptedLog implements LogReader<Step> {
  private readonly queue: Step[][] = [];
  private waiter: ((value: { steps: Step[]; caughtUp: boolean } | null) => void) | undefined;

  push(...steps: Step[]): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter({ steps, caughtUp: true });
    else this.queue.push(steps);
  }

  next(): Promise<{ steps: Step[]; caughtUp: boolean } | null> {
    const steps = this.queue.shift();
    if (steps) return Promise.resolve({ steps, caughtUp: true });
    return new Promise((resolve) => (this.waiter = resolve));
  }

  close(): Promise<void> {
    this.waiter?.(null);
    return Promise.resolve();
  }
}

describe('source kit: a grouped read beside the log', () => {
  it("drops from each grouped chunk the keys its table changed inside the window, and the log's state wins", async () => {
    const a = tableNamed('a');
    const b = tableNamed('b');
    const tables = new Map([
      ['db.a', a],
      ['db.b', b],
    ]);
    const log = new ScriptedLog();
    let release: (() => void) | undefined;
    let grouped: readonly string[] = [];
    const dialect: SourceDialect<number, Step, Table> = {
      compareOffsets: (x, y) => x - y,
      openLog: () => Promise.resolve(log),
      openReader: () =>
        Promise.resolve({
          readChunk: () => Promise.reject(new Error('expected one grouped read')),
          readChunks: (ranges, onHigh) => {
            grouped = ranges.map((r) => r.table.schema.id.name);
            onHigh(10); // the window is (2, 10]
            return new Promise((resolve) => {
              release = () =>
                resolve(
                  ranges.map((range) => ({
                    range,
                    rows: [
                      [1, `${range.table.schema.id.name}-old`],
                      [2, `${range.table.schema.id.name}-two`],
                    ],
                    low: 2,
                    high: 10,
                  })),
                );
            });
          },
          close: () => Promise.resolve(),
        }),
      openSplitter: () =>
        Promise.resolve({
          splitTable: (table) => {
            let given = false;
            return {
              next: () => {
                if (given) return Promise.resolve(null);
                given = true;
                return Promise.resolve({ table, lo: null, hi: null, rows: 2 });
              },
              skipTo: () => {},
            };
          },
          close: () => Promise.resolve(),
        }),
    };
    const merge = new DblogMerge<number, Step, Table>({
      log: silentLogger,
      logName: 'log',
      tableFor: (key) => tables.get(key),
      chunkSize: 100,
      parallelism: 1,
      rowsPerSecond: undefined,
      applyStep: (step, out) => {
        if (step.kind === 'rows') {
          const table = tables.get(step.table)!.schema.id;
          out.push({
            kind: 'data',
            table,
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
    await merge.start({ dialect, logPosition: 0, snapshotOnly: false, snapshot: startSnapshot(['db.a', 'db.b']) });
    const events: ChangeEvent[] = [];
    const iterator = merge.batches([])[Symbol.asyncIterator]();
    const pump = async (until: () => boolean) => {
      while (!until()) {
        const next = await iterator.next();
        if (next.done) return;
        events.push(...unpackEvents(next.value.events));
      }
    };
    for (let i = 0; i < 200 && release === undefined; i++) await new Promise((r) => setTimeout(r, 5));
    expect(grouped).toEqual(['a', 'b']);
    // Inside the window: key 1 of table b changes (not a's key 1).
    log.push(
      { kind: 'begin', start: 4 },
      {
        kind: 'rows',
        table: 'db.b',
        rows: [
          [1, 'b-old'],
          [1, 'b-new'],
        ],
        end: 5,
      },
      { kind: 'commit', end: 6 },
    );
    await pump(() => events.some((e) => e.kind === 'data' && e.op === 'update'));
    log.push({ kind: 'advance', end: 11 });
    release!();
    await pump(() => events.filter((e) => e.kind === 'data' && e.op === 'read').length >= 3);
    await merge.close();
    const seen = events.flatMap((e) => (e.kind === 'data' ? [`${e.op} ${e.table.name} ${String(e.after![1])}`] : []));
    expect(seen).toEqual(['update b b-new', 'read a a-old', 'read a a-two', 'read b b-two']);
    expect(merge.snapshot).toBeUndefined();
  });
});
