import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/core/change-event.js';
import { unpackEvents } from '../../src/core/packed-rows.js';
import type { Row, Value } from '../../src/core/data-type.js';
import type { Source, SourcePosition } from '../../src/core/source.js';
import type { TableSchema } from '../../src/core/table-schema.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalText } from './canonical-text.js';
import { startCli, writePipelineFile, type CliProcess } from './cli-process.js';
import { freshPostgresDatabase, uniqueName, waitFor, type FreshPostgresDatabase } from './databases.js';
import { installRevisionAudit, readRevisionAudit, seededRandom, sinkCheckpoint, type Random } from './faults.js';
import { testTempDir } from './temp-dirs.js';

/** One column of the type-fidelity table: its SQL type and SQL literals, one per row (NULL among them). */
export interface TypeColumn {
  readonly name: string;
  readonly sql: string;
  readonly literals: readonly string[];
}

/** How the suite opens a source (every case has a namespace and a pipeline name of its own). */
export interface SourceSpec {
  readonly pipelineName: string;
  /** The source's `tables` option, from {@link SourceConformanceTarget.tablePattern}. */
  readonly tables: string;
  readonly chunkSize: number;
  readonly parallelism: number;
  /** A cap on snapshot rows per second, so that a case can stop the source while its snapshot runs. */
  readonly rowsPerSecond?: number;
}

/**
 * What the suite needs of a source database; everything database-specific is here. The suite's own SQL is
 * plain: `CREATE TABLE ns.t (id INT PRIMARY KEY, v VARCHAR(100), rev BIGINT NOT NULL)`, multi-row `INSERT …
 * VALUES`, `UPDATE`, `DELETE`, and `BEGIN; …; COMMIT` for transactions.
 */
export interface SourceConformanceTarget {
  /** Creates a namespace (MySQL: a database; PostgreSQL: a schema) for one case. */
  createNamespace(name: string): Promise<void>;
  dropNamespace(name: string): Promise<void>;
  /** Runs SQL text (one or several statements separated by `;`) on the source. */
  execute(sql: string): Promise<void>;
  /** The `tables` pattern that captures the tables of `namespace` whose name matches the regular expression `name`. */
  tablePattern(namespace: string, name: string): string;
  /** A new source, not yet opened. */
  source(spec: SourceSpec): Source;
  /**
   * The same source as a pipeline file's `source:` block (its lines, indented by two spaces; secrets as
   * `${VAR}`) and the environment those variables come from, for the cases that run the CLI.
   */
  sourceYaml(spec: SourceSpec): { readonly yaml: string; readonly env: Record<string, string> };
  /**
   * Columns of every type the source maps, for the type-fidelity case: each with the same number of literals.
   * A snapshot read of a row and the log's insert of the same literals must give the same canonical values.
   */
  readonly typeColumns: readonly TypeColumn[];
  close(): Promise<void>;
}

/**
 * The conformance suite every source runs, the counterpart of sink-conformance.ts: a snapshot taken under
 * concurrent writes, a source killed mid-snapshot and resumed from its last position, values identical through
 * the snapshot and the log, and a table created while the source streams. Outcomes are checked against a model
 * of what was written: the final state per key, and that no key ever goes back in history (every write sets
 * `rev` from one counter that only grows, so a change delivered out of order shows as a smaller `rev`).
 */
export function sourceConformance(label: string, setup: () => Promise<SourceConformanceTarget>): void {
  describe(`source conformance: ${label}`, () => {
    let target: SourceConformanceTarget;
    const namespaces: string[] = [];
    const running: Reader[] = [];
    const sinks: FreshPostgresDatabase[] = [];

    beforeAll(async () => {
      target = await setup();
    });
    afterAll(async () => {
      for (const reader of running) await reader.stop();
      for (const sink of sinks) await sink.drop().catch(() => undefined);
      for (const namespace of namespaces) await target?.dropNamespace(namespace).catch(() => undefined);
      await target?.close();
    });

    const namespace = async (prefix: string): Promise<string> => {
      const name = uniqueName(prefix);
      await target.createNamespace(name);
      namespaces.push(name);
      return name;
    };
    const read = (spec: SourceSpec, state: StreamState, resume: SourcePosition | null = null): Promise<Reader> => {
      const reader = startReader(target.source(spec), state, resume);
      return reader.then((r) => {
        running.push(r);
        return r;
      });
    };

    it('snapshot under writes: every key ends as written, none goes back in history', async () => {
      const ns = await namespace('sc_snapw');
      const model = new ItemsModel(target, `${ns}.items`, seededRandom(1301));
      await model.create(10_000);
      const state = new StreamState();
      const spec = {
        pipelineName: uniqueName('scsnapw'),
        tables: target.tablePattern(ns, 'items'),
        chunkSize: 150,
        parallelism: 2,
        rowsPerSecond: 5000, // a snapshot of about 2 s, written to all along
      };
      const reader = await read(spec, state);
      // Writes aimed just past the rows delivered so far hit the chunks being read (chunks go in key order).
      const during = await model.writeWhile(
        () => reader.source.progress().phase === 'snapshot',
        () => state.reads,
      );
      await reader.waitUntilEqual(state, [model], 'the stream to equal what was written');
      await model.write(20);
      await reader.waitUntilEqual(state, [model], 'the changes after the snapshot');
      await reader.stop();
      expect(state.backInHistory).toEqual([]);
      expect(during, 'transactions written while the snapshot ran').toBeGreaterThan(10);
      expect(state.reads).toBeGreaterThan(0);
    });

    it('killed mid-snapshot and resumed from its last position: nothing lost, nothing out of order', async () => {
      const ns = await namespace('sc_resume');
      const rows = 10_000;
      const model = new ItemsModel(target, `${ns}.items`, seededRandom(1302));
      await model.create(rows);
      const state = new StreamState();
      const spec = {
        pipelineName: uniqueName('scresume'),
        tables: target.tablePattern(ns, 'items'),
        chunkSize: 100,
        parallelism: 2,
      };
      // Throttled, so that the kill comes while the snapshot runs.
      const first = await read({ ...spec, rowsPerSecond: 5000 }, state);
      const writes = model.write(40);
      await first.waitUntil(() => state.reads >= 2000, 'a part of the snapshot');
      // The kill: what was consumed so far counts as committed (its batches' last position is the resume point).
      await first.stop();
      await writes;
      const position = first.position;
      expect(position).not.toBeNull();
      const readsBefore = state.reads;
      expect(readsBefore, 'stopped before the snapshot was done').toBeLessThan(rows);
      await model.write(20); // while it is down

      const second = await read(spec, state, position);
      await model.write(20);
      await second.waitUntilEqual(state, [model], 'the resumed stream to equal what was written');
      await second.stop();
      expect(state.backInHistory).toEqual([]);
      // Resumed by chunk: the second run read about what the first had not, not the whole table again.
      expect(state.reads - readsBefore).toBeLessThan(rows - readsBefore / 2);
    });

    it('crash loop: the CLI killed with SIGKILL again and again under a writer; the target equals the source', async () => {
      const ns = await namespace('sc_crash');
      const model = new ItemsModel(target, `${ns}.items`, seededRandom(1305));
      await model.create(4000);
      const sink = await freshPostgresDatabase('sc_crash_sink');
      sinks.push(sink);
      await installRevisionAudit(sink.query.bind(sink), ns);
      const spec: SourceSpec = {
        pipelineName: uniqueName('sccrash'),
        tables: target.tablePattern(ns, 'items'),
        chunkSize: 100,
        parallelism: 2,
        rowsPerSecond: 2000, // a snapshot of about 2 s, so that the first kills land in it
      };
      const source = target.sourceYaml(spec);
      const stateDir = await testTempDir('tributary-sc-crash');
      const file = await writePipelineFile(
        stateDir,
        `source:\n${source.yaml}\nsink:\n  type: postgres\n  url: \${SC_SINK_URL}\npipeline:\n` +
          `  name: ${spec.pipelineName}\n  checkpoint.interval: 200ms\n  parallelism: ${spec.parallelism}\n  state.dir: ${stateDir}\n`,
      );
      const env = { ...source.env, SC_SINK_URL: sink.url };
      let writing = true;
      const writer = model.writeWhile(() => writing);
      const decide = seededRandom(1306);
      let cli: CliProcess | undefined;
      const phases: string[] = [];
      try {
        for (let kill = 1; kill <= 3; kill++) {
          const before = (await sinkCheckpoint(sink.query.bind(sink), spec.pipelineName))?.id ?? 0;
          cli = startCli(['run', file], env);
          // Killed a moment after this run's first checkpoint (startup takes long on a busy machine): some kills
          // land in the snapshot, some in the stream, some mid-commit.
          await waitFor(
            async () => ((await sinkCheckpoint(sink.query.bind(sink), spec.pipelineName))?.id ?? 0) > before,
            { timeoutMs: 120_000, intervalMs: 50, message: `a checkpoint of run ${kill}` },
          );
          phases.push(
            (await sinkCheckpoint(sink.query.bind(sink), spec.pipelineName))?.position['snapshot'] === undefined
              ? 'streaming'
              : 'snapshot',
          );
          await sleep(decide.int(0, 1500));
          cli.child.kill('SIGKILL');
          const exit = await cli.exited;
          expect(exit, `run ${kill} was killed, it did not stop by itself:\n${cli.output().slice(-2000)}`).toBe(
            'SIGKILL',
          );
        }
        cli = startCli(['run', file], env);
        await sleep(1000);
        writing = false;
        await writer;
        const rows = async () =>
          await sink.query<{ id: number; v: string; rev: string }>(`SELECT id, v, rev::text AS rev FROM ${ns}.items`);
        await waitFor(async () => sinkEquals(await rows(), model), {
          timeoutMs: 120_000,
          message: `the target to equal the source:\n${cli.output().slice(-2000)}`,
        });
        cli.child.kill('SIGTERM');
        expect(await cli.exited).toBe(0);
        expect(cli.output()).toMatch(/resuming from checkpoint/);
        const audit = await readRevisionAudit(sink.query.bind(sink));
        expect(audit.regressions, 'row images applied after a newer one').toBe(0);
        expect(phases, 'the phase of the checkpoint each kill followed').toContain('snapshot');
      } finally {
        writing = false;
        cli?.child.kill('SIGKILL');
        await writer.catch(() => 0);
      }
    });

    it('type fidelity: the snapshot and the log give identical values', async () => {
      const ns = await namespace('sc_types');
      const columns = target.typeColumns;
      const count = columns[0]?.literals.length ?? 0;
      expect(count).toBeGreaterThan(0);
      const table = `${ns}.typed`;
      await target.execute(
        `CREATE TABLE ${table} (id INT PRIMARY KEY, ${columns.map((c) => `${c.name} ${c.sql}`).join(', ')})`,
      );
      const insert = (offset: number) =>
        `INSERT INTO ${table} (id, ${columns.map((c) => c.name).join(', ')}) VALUES ` +
        Array.from(
          { length: count },
          (_, i) => `(${offset + i}, ${columns.map((c) => c.literals[i]).join(', ')})`,
        ).join(', ');
      await target.execute(insert(1));
      const state = new StreamState();
      const spec = {
        pipelineName: uniqueName('sctypes'),
        tables: target.tablePattern(ns, 'typed'),
        chunkSize: 1000,
        parallelism: 1,
      };
      const reader = await read(spec, state);
      await reader.waitUntil(() => state.rowsOf('typed', 'read').length === count, 'the snapshot rows');
      await waitFor(() => reader.source.progress().phase === 'streaming', { message: 'the snapshot to finish' });
      await target.execute(insert(1001));
      await reader.waitUntil(() => state.rowsOf('typed', 'insert').length === count, 'the inserted rows');
      await reader.stop();
      const schema = state.schemas.get('typed')!;
      const text = (row: Row) =>
        schema.columns.slice(1).map((c, i) => `${c.name}=${canonicalText(row[i + 1] ?? null, c.type)}`);
      const reads = sortById(state.rowsOf('typed', 'read'));
      const inserts = sortById(state.rowsOf('typed', 'insert'));
      for (let i = 0; i < count; i++) expect(text(inserts[i]!), `row ${i + 1}`).toEqual(text(reads[i]!));
      // And the same JavaScript types (a sink writes what it gets).
      for (let i = 0; i < count; i++) expect(inserts[i]!.map(typeName)).toEqual(reads[i]!.map(typeName));
    });

    it('a table created while streaming is captured: its schema, its rows and its changes', async () => {
      const ns = await namespace('sc_add');
      const first = new ItemsModel(target, `${ns}.live_a`, seededRandom(1303));
      await first.create(200);
      const state = new StreamState();
      const spec = {
        pipelineName: uniqueName('scadd'),
        tables: target.tablePattern(ns, 'live_.*'),
        chunkSize: 100,
        parallelism: 1,
      };
      const reader = await read(spec, state);
      await reader.waitUntilEqual(state, [first], 'the first table');
      await waitFor(() => reader.source.progress().phase === 'streaming', { message: 'the snapshot to finish' });
      const added = new ItemsModel(target, `${ns}.live_b`, seededRandom(1304));
      await added.create(300);
      await added.write(20);
      await first.write(10);
      await reader.waitUntilEqual(state, [added, first], 'both tables to equal what was written');
      await reader.stop();
      expect(state.schemas.has('live_b')).toBe(true);
      expect(state.backInHistory).toEqual([]);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------

/** Keeps the `rev` counter across every table of the run: a write always carries a larger `rev` than any before. */
let lastRev = 0;

/**
 * The items table and what was written to it: `id → [v, rev]`. Writes are random transactions (inserts of new
 * keys, updates, deletes, an update of several rows) whose outcome is recorded once they committed.
 */
class ItemsModel {
  readonly rows = new Map<number, { v: string; rev: number }>();
  readonly name: string;
  private nextId = 1;

  constructor(
    private readonly target: SourceConformanceTarget,
    readonly table: string,
    private readonly random: Random,
  ) {
    this.name = table.slice(table.lastIndexOf('.') + 1);
  }

  async create(rows: number): Promise<void> {
    await this.target.execute(`CREATE TABLE ${this.table} (id INT PRIMARY KEY, v VARCHAR(100), rev BIGINT NOT NULL)`);
    for (let first = 1; first <= rows; first += 1000) {
      const values: string[] = [];
      const batch: [number, { v: string; rev: number }][] = [];
      for (let id = first; id < Math.min(rows + 1, first + 1000); id++) {
        const row = { v: `row-${id}-ü€`, rev: ++lastRev };
        values.push(`(${id}, '${row.v}', ${row.rev})`);
        batch.push([id, row]);
      }
      await this.target.execute(`INSERT INTO ${this.table} (id, v, rev) VALUES ${values.join(', ')}`);
      for (const [id, row] of batch) this.rows.set(id, row);
    }
    this.nextId = rows + 1;
  }

  /**
   * Random transactions, one after the other, for as long as `condition` holds; returns how many. With `near`,
   * the keys changed are mostly within a few hundred after `near()`.
   */
  async writeWhile(condition: () => boolean, near?: () => number): Promise<number> {
    let count = 0;
    while (condition()) {
      await this.write(1, near);
      count++;
    }
    return count;
  }

  /** `transactions` random transactions, one after the other. */
  async write(transactions: number, near?: () => number): Promise<void> {
    const pickKey = (keys: readonly number[]): number => {
      if (near === undefined || this.random.chance(0.2)) return this.random.pick(keys);
      const id = near() + this.random.int(1, 400);
      return this.rows.has(id) ? id : this.random.pick(keys);
    };
    for (let t = 0; t < transactions; t++) {
      const statements: string[] = [];
      const effects: (() => void)[] = [];
      const ops = this.random.int(1, 4);
      for (let o = 0; o < ops; o++) {
        const keys = [...this.rows.keys()];
        const kind = keys.length === 0 ? 'insert' : this.random.weighted({ insert: 2, update: 5, delete: 1, range: 1 });
        const rev = ++lastRev;
        if (kind === 'insert') {
          const id = this.nextId++;
          const v = `new-${id}-${rev}`;
          statements.push(`INSERT INTO ${this.table} (id, v, rev) VALUES (${id}, '${v}', ${rev})`);
          effects.push(() => this.rows.set(id, { v, rev }));
        } else if (kind === 'update') {
          const id = pickKey(keys);
          const v = `upd-${id}-${rev}`;
          statements.push(`UPDATE ${this.table} SET v = '${v}', rev = ${rev} WHERE id = ${id}`);
          effects.push(() => this.rows.set(id, { v, rev }));
        } else if (kind === 'delete') {
          const id = pickKey(keys);
          statements.push(`DELETE FROM ${this.table} WHERE id = ${id}`);
          effects.push(() => this.rows.delete(id));
        } else {
          const from = pickKey(keys);
          const to = from + this.random.int(1, 40);
          statements.push(
            `UPDATE ${this.table} SET v = 'range-${rev}', rev = ${rev} WHERE id BETWEEN ${from} AND ${to}`,
          );
          effects.push(() => {
            for (const [id] of this.rows) if (id >= from && id <= to) this.rows.set(id, { v: `range-${rev}`, rev });
          });
        }
        // Apply to the model now, so that later operations of the transaction see it (the database does too).
        effects[effects.length - 1]!();
      }
      await this.target.execute(`BEGIN; ${statements.join('; ')}; COMMIT`);
    }
  }
}

/**
 * The stream folded as a sink would: the last state per table and key, the schema per table, and every key
 * whose `rev` went down (a change delivered after a newer one of the same key).
 */
class StreamState {
  readonly schemas = new Map<string, TableSchema>();
  readonly tables = new Map<string, Map<string, Row>>();
  /** Highest `rev` seen per `table/id`, deletes included. */
  private readonly revs = new Map<string, bigint>();
  readonly backInHistory: string[] = [];
  readonly events: { table: string; op: string; row: Row }[] = [];
  reads = 0;

  apply(events: readonly ChangeEvent[]): void {
    for (const event of events) {
      const table = event.table.name;
      if (event.kind === 'schema') {
        if (event.schema) this.schemas.set(event.schema.id.name, event.schema);
        continue;
      }
      const schema = this.schemas.get(table);
      if (!schema) throw new Error(`rows of ${table} before its schema`);
      const key = (row: Row) => String(row[columnIndex(schema, 'id')]);
      const rows = this.tables.get(table) ?? new Map<string, Row>();
      this.tables.set(table, rows);
      if (event.op === 'read') this.reads++;
      const image = event.after ?? event.before!;
      this.events.push({ table, op: event.op, row: image });
      this.noteRev(schema, table, event.before);
      this.noteRev(schema, table, event.after);
      if (event.before && event.op !== 'read') rows.delete(key(event.before));
      if (event.after) rows.set(key(event.after), event.after);
    }
  }

  /** Rows of `table` delivered with `op`. */
  rowsOf(table: string, op: string): Row[] {
    return this.events.filter((e) => e.table === table && e.op === op).map((e) => e.row);
  }

  /** The first differences between the folded table and what `model` wrote ('' when equal). */
  difference(model: ItemsModel): string {
    const schema = this.schemas.get(model.name);
    if (!schema) return `${model.name}: no schema event`;
    const rows = this.tables.get(model.name) ?? new Map<string, Row>();
    const [v, rev] = [columnIndex(schema, 'v'), columnIndex(schema, 'rev')];
    const problems: string[] = [];
    for (const [id, row] of model.rows) {
      const got = rows.get(String(id));
      if (!got) problems.push(`${id} missing`);
      else if (got[v] !== row.v || BigInt(got[rev] as bigint | number) !== BigInt(row.rev))
        problems.push(`${id} is rev ${String(got[rev])}, not ${row.rev}`);
    }
    for (const id of rows.keys()) if (!model.rows.has(Number(id))) problems.push(`${id} should not be there`);
    if (problems.length === 0) return '';
    return `${model.name}: ${problems.length} keys differ (${problems.slice(0, 5).join('; ')})`;
  }

  /** Whether the folded table equals what `model` wrote. */
  matches(model: ItemsModel): boolean {
    const schema = this.schemas.get(model.name);
    const rows = this.tables.get(model.name);
    if (!schema || !rows) return model.rows.size === 0 && schema !== undefined;
    if (rows.size !== model.rows.size) return false;
    const [v, rev] = [columnIndex(schema, 'v'), columnIndex(schema, 'rev')];
    for (const [id, row] of model.rows) {
      const got = rows.get(String(id));
      if (!got || got[v] !== row.v || BigInt(got[rev] as bigint | number) !== BigInt(row.rev)) return false;
    }
    return true;
  }

  private noteRev(schema: TableSchema, table: string, row: Row | null): void {
    if (!row) return;
    const revIndex = schema.columns.findIndex((c) => c.name === 'rev');
    if (revIndex < 0) return;
    // A before image may hold the key only (PostgreSQL without REPLICA IDENTITY FULL): nothing to compare.
    if (row[revIndex] === null) return;
    const id = `${table}/${String(row[columnIndex(schema, 'id')])}`;
    const rev = BigInt(row[revIndex] as bigint | number);
    const seen = this.revs.get(id);
    if (seen !== undefined && rev < seen) this.backInHistory.push(`${id}: rev ${rev} after ${seen}`);
    if (seen === undefined || rev > seen) this.revs.set(id, rev);
  }
}

/** A source opened and read in the background into a {@link StreamState}. */
interface Reader {
  readonly source: Source;
  /** The position of the last batch folded in (null before the first). */
  readonly position: SourcePosition | null;
  waitUntil(condition: () => boolean, message: string): Promise<void>;
  /** Waits until the folded tables equal the models; the error names the keys that differ. */
  waitUntilEqual(state: StreamState, models: readonly ItemsModel[], message: string): Promise<void>;
  /** Closes the source and waits for the reading to end (rethrows what the source threw). */
  stop(): Promise<void>;
}

async function startReader(source: Source, state: StreamState, resume: SourcePosition | null): Promise<Reader> {
  await source.open(resume);
  let position: SourcePosition | null = resume;
  let failure: unknown;
  let stopped = false;
  const done = (async () => {
    try {
      for await (const batch of source.batches()) {
        state.apply(unpackEvents(batch.events));
        position = batch.position;
        if (stopped) break;
      }
    } catch (error) {
      if (!stopped) failure = error;
    }
  })();
  const reader: Reader = {
    source,
    get position() {
      return position;
    },
    async waitUntil(condition, message) {
      await waitFor(
        () => {
          if (failure !== undefined) throw new Error(`the source failed: ${describeError(failure)}`);
          return condition();
        },
        { timeoutMs: 120_000, message },
      );
    },
    async waitUntilEqual(state, models, message) {
      try {
        await reader.waitUntil(() => models.every((m) => state.matches(m)), message);
      } catch (error) {
        const differences = models.map((m) => state.difference(m)).filter((d) => d !== '');
        const history = state.backInHistory.slice(0, 5);
        throw new Error(
          `${error instanceof Error ? error.message : String(error)}: ${differences.join('; ')}` +
            (history.length > 0 ? `; keys that went back in history: ${history.join('; ')}` : ''),
        );
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await source.close();
      await done;
      if (failure !== undefined) throw failure instanceof Error ? failure : new Error(describeError(failure));
    },
  };
  return reader;
}

/** Whether the sink's rows (`id`, `v`, `rev`) are exactly what `model` wrote: every key once, none extra. */
function sinkEquals(rows: readonly { id: number; v: string; rev: string }[], model: ItemsModel): boolean {
  if (rows.length !== model.rows.size) return false;
  return rows.every((row) => {
    const want = model.rows.get(Number(row.id));
    return want !== undefined && want.v === row.v && String(want.rev) === row.rev;
  });
}

function columnIndex(schema: TableSchema, name: string): number {
  const index = schema.columns.findIndex((c) => c.name === name);
  if (index < 0) throw new Error(`${schema.id.name} has no column ${name}`);
  return index;
}

function sortById(rows: Row[]): Row[] {
  return [...rows].sort((a, b) => Number(a[0]) - Number(b[0]));
}

function typeName(value: Value): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return 'bytes';
  return typeof value;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : JSON.stringify(error);
}
