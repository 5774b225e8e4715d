import { createHash } from 'node:crypto';
import type { ChangeEvent, DataChangeEvent, SchemaChangeEvent, SourceInfo } from '../core/change-event.js';
import type { Row, Value } from '../core/data-type.js';
import { TributaryError } from '../core/errors.js';
import type { Operator, OperatorState } from '../core/operator.js';
import { sameTable, tableIdToString, type TableId, type TableSchema } from '../core/table-schema.js';
import { castConverter, type Converter } from '../transform/expression/cast.js';
import type { Delta } from './exec/changelog.js';
import { DiskStateStore, type CommittedArrays, type CommittedState, type DiskStateOptions } from './exec/disk-state.js';
import { corrupt, prefixedBackend } from './exec/keyed-state.js';
import { AggregateNode, type PlanNode, type ScanNode } from './exec/nodes.js';
import type { QueryPlan } from './planner.js';

/** Which source tables a scan reads: the `database-name` and `table-name` regular expressions of its table. */
export interface ScanSource {
  readonly scan: ScanNode;
  readonly database: RegExp;
  readonly table: RegExp;
}

/** One INSERT of a job: its plan, the source tables of its scans, and the sink table it writes. */
export interface SqlQuery {
  readonly plan: QueryPlan;
  readonly sources: readonly ScanSource[];
  readonly sinkSchema: TableSchema;
}

interface Binding {
  readonly scan: ScanNode;
  /**
   * Per column the scan reads: the source column's index and the conversion to the declared type, or (index -1) the
   * value of a metadata column for this source table.
   */
  readonly columns: readonly { readonly index: number; readonly convert: Converter | null; readonly value?: Value }[];
}

/**
 * Streaming SQL queries as one pipeline stage: source change events in, the sink tables' changes out — one
 * query per INSERT, several for a statement set (each source event goes into every query that reads it). Source
 * rows enter the query's operator graph at its scans (an update as the retraction of the old row and the new
 * row); what reaches the graph's end becomes upserts and deletes of the sink table by its primary key — the
 * retraction of a row a delete, a new row an insert (an upsert at the sink). Its first output in an attempt is
 * the sink table's createTable.
 *
 * The graph's state (join sides, aggregate groups) lives in a {@link DiskStateStore} in the job's state directory
 * (`state.dir`; in memory without one). Each checkpoint commits the state's changes since the previous one
 * ({@link snapshotState}) with the sink's rows, the file takes them once the sink committed
 * ({@link checkpointCommitted}), and a new attempt brings the file to the checkpoint it resumes from
 * ({@link restoreState}): the source resumes at the checkpoint's position with the state of that same position,
 * no change counted twice or lost.
 */
export class SqlOperator implements Operator {
  private announced = false;
  private readonly bindings = new Map<string, Binding[]>();
  /** The table of the last data event and its bindings (undefined: none since the last schema change). */
  private lastTable: TableId | undefined;
  private lastBindings: Binding[] | undefined;
  private output: ChangeEvent[] = [];
  private info: SourceInfo = { tsMs: 0 };
  /** The queries' plan (see `QueryPlan.explain`): what the saved state belongs to. */
  private fingerprint!: string;
  /** The plan as it was before aggregates were keyed by a shorter unique key (see `QueryPlan.explainKeyedByAll`). */
  private fingerprintKeyedByAll!: string;
  private store: DiskStateStore | undefined;
  private sources!: readonly ScanSource[];
  /** Every query's nodes, query by query: the order of the saved state. */
  private nodes!: readonly PlanNode[];
  /** The source tables warned about (see {@link snapshotPending}). */
  private readonly warned = new Set<string>();

  constructor(
    private queries: readonly SqlQuery[],
    private readonly timeZone: string,
    /** Where the state lives: the job's state directory (none: in memory, gone with the operator). */
    private readonly state: DiskStateOptions & { readonly dir?: string } = {},
    /** Where warnings go (the job's log). */
    private readonly warn: (message: string) => void = () => {},
    /**
     * The queries planned without eager aggregation and aggregating joins (`PlanOptions.eagerAggregation`,
     * `aggregatingJoins`), as a release before them planned them: a job whose saved state has that plan goes on with it.
     */
    private readonly asEarlierReleases?: () => readonly SqlQuery[],
  ) {
    this.use(queries);
  }

  /** Runs `queries` (before the state is opened). */
  private use(queries: readonly SqlQuery[]): void {
    this.queries = queries;
    this.fingerprint = planFingerprint(queries.map((q) => q.plan.explain));
    this.fingerprintKeyedByAll = planFingerprint(queries.map((q) => q.plan.explainKeyedByAll));
    this.sources = queries.flatMap((q) => q.sources);
    this.nodes = queries.flatMap((q) => q.plan.nodes);
    for (const query of queries) query.plan.root.out = (delta) => this.toSink(query, delta);
  }

  /** The sink tables the queries write. */
  get sinkTables(): TableId[] {
    return this.queries.map((q) => q.sinkSchema.id);
  }

  /** Opens the state and hands it to the nodes; `saved`: what the checkpoint the attempt resumes from holds. */
  private openState(saved: CommittedState | CommittedArrays | undefined): DiskStateStore {
    if (this.store !== undefined) throw new Error('the SQL operator state is opened twice');
    const store =
      this.state.dir === undefined
        ? new DiskStateStore(':memory:', this.fingerprint, this.state)
        : DiskStateStore.open(this.state.dir, this.fingerprint, this.state);
    try {
      store.restore(saved);
      // Node ids are numbered per query: the states of a statement set's later queries are named apart.
      this.queries.forEach((query, i) => {
        const backend = i === 0 ? store : prefixedBackend(store, `q${i}.`);
        for (const node of query.plan.nodes) node.openState(backend);
      });
      store.warmUp();
    } catch (error) {
      // Nothing was written yet: no writer thread to wait for, the file closes at once.
      store.close().catch(() => undefined);
      throw error;
    }
    this.store = store;
    return store;
  }

  process(events: readonly ChangeEvent[]): ChangeEvent[] {
    this.output = [];
    if (!this.announced) {
      this.announced = true;
      for (const { sinkSchema } of this.queries) {
        this.output.push({
          kind: 'schema',
          table: sinkSchema.id,
          change: 'createTable',
          schema: sinkSchema,
          source: { tsMs: 0 },
        });
      }
    }
    for (const event of events) {
      if (event.kind === 'schema') this.schema(event);
      else this.data(event);
    }
    for (const node of this.nodes) node.flush();
    this.store?.endBatch();
    const out = this.output;
    this.output = [];
    return out;
  }

  /** Waits for the state file's write of the previous checkpoint (see {@link DiskStateStore.snapshot}). */
  async snapshotState(): Promise<OperatorState> {
    const state = await this.opened().snapshot();
    return { stage: 'sql', version: 4, plan: this.fingerprint, state };
  }

  /** Hands the checkpoint's state changes to the state file's writer thread, and returns. */
  async checkpointCommitted(): Promise<void> {
    await this.store?.committed();
  }

  /**
   * The state file's times (ms): how long the last snapshotState waited for the write of the checkpoint before,
   * and how long the writer thread took for the last write that landed (0: none yet, or the state is in memory).
   */
  get stateTimes(): { readonly waitMs: number; readonly writeMs: number } {
    return { waitMs: this.store?.lastWaitMs ?? 0, writeMs: this.store?.lastWriteMs ?? 0 };
  }

  /**
   * The state's memory, estimated (bytes): the values cached, the changes not yet in the state file, and the writer
   * thread's largest heap during its last write (0: none yet, or the state is in memory).
   */
  get stateMemory(): { readonly cachedBytes: number; readonly changedBytes: number; readonly writerHeapBytes: number } {
    const { cachedBytes = 0, changedBytes = 0 } = this.store?.memory ?? {};
    return { cachedBytes, changedBytes, writerHeapBytes: this.store?.writerHeapBytes ?? 0 };
  }

  /** Waits until the state file holds the last committed checkpoint; throws its write's error if it failed. */
  async stateWritten(): Promise<void> {
    await this.store?.settle();
  }

  /** Waits for the state file's write in flight; throws its error (STATE_DIR_UNWRITABLE) if it failed. */
  async close(): Promise<void> {
    await this.store?.close();
  }

  restoreState(state: OperatorState): void {
    if (state['stage'] !== 'sql') throw corrupt();
    if (state['plan'] !== this.fingerprint && state['plan'] !== this.fingerprintKeyedByAll) {
      // Saved by a version that planned no eager aggregation nor aggregating joins: the job goes on with that plan (until a --reset).
      const earlier = this.asEarlierReleases?.();
      if (earlier !== undefined) {
        const fingerprints = [earlier.map((q) => q.plan.explain), earlier.map((q) => q.plan.explainKeyedByAll)];
        if (fingerprints.some((explains) => planFingerprint(explains) === state['plan'])) {
          this.use(earlier);
          this.warn(
            'the job state was written by a release before eager aggregation and aggregating joins: the job goes on ' +
              'with the plan it had (EXPLAIN shows the new one); rerun the script with --reset to compute the result ' +
              'with the new plan',
          );
        }
      }
    }
    if (state['plan'] === this.fingerprintKeyedByAll && state['plan'] !== this.fingerprint) {
      // Saved by a version that keyed every group by all its values: the job goes on that way (a --reset moves it
      // to the shorter keys).
      for (const node of this.nodes) if (node instanceof AggregateNode) node.keyByAllValues(true);
      this.fingerprint = this.fingerprintKeyedByAll;
    }
    if (state['plan'] !== this.fingerprint) {
      throw new TributaryError(
        'SQL_INVALID',
        'the query (or a table it reads) changed since the job last committed: its saved state belongs to another plan',
        { hint: 'rerun the script with --reset to compute the new query from the source tables' },
      );
    }
    // 1: the whole state in the checkpoint; 2: a join side's rows of one join key as one entry.
    if (state['version'] === 1 || state['version'] === 2) {
      throw new TributaryError(
        'SQL_STATE_MISMATCH',
        'the last checkpoint holds the SQL job state in the format of an earlier version',
        { hint: 'rerun the script with --reset to compute the result anew from the source tables' },
      );
    }
    // 3: the changes as arrays (CommittedArrays); 4: packed (CommittedState). The file's layout is the same.
    const saved = state['state'] as CommittedState | CommittedArrays | undefined;
    if ((state['version'] !== 3 && state['version'] !== 4) || typeof saved?.version !== 'number') throw corrupt();
    if ('delta' in saved !== (state['version'] === 3)) throw corrupt();
    this.openState(saved);
  }

  private schema(event: SchemaChangeEvent): void {
    if (event.change === 'truncateTable' || event.change === 'dropTable') {
      if (this.scansOf(event.table).length === 0) return;
      throw new TributaryError(
        'SQL_UNSUPPORTED_CHANGE',
        `${tableIdToString(event.table)} was ${event.change === 'truncateTable' ? 'truncated' : 'dropped'} at the source: the query's state no longer matches it`,
        { hint: 'rerun the script with --reset to compute the result anew from the source tables' },
      );
    }
    this.lastTable = undefined;
    const key = tableIdToString(event.table);
    this.bindings.delete(key);
    if (event.change === 'renameTable') this.bindings.delete(tableIdToString(event.schema.id));
    const bindings = this.scansOf(event.schema.id).map((source) => this.bind(source.scan, event.schema));
    this.bindings.set(tableIdToString(event.schema.id), bindings);
  }

  private scansOf(table: TableId): ScanSource[] {
    return this.sources.filter((s) => fullMatch(s.database, table.namespace) && fullMatch(s.table, table.name));
  }

  /** Checks every column the scan's table declares against the source's; reads the ones the query uses. */
  private bind(scan: ScanNode, schema: TableSchema): Binding {
    const declared = scan.declared.map((field, i) => {
      const metadata = scan.metadata[i];
      if (metadata !== undefined) {
        const value =
          metadata.from === 'constant'
            ? metadata.value
            : metadata.from === 'namespace'
              ? schema.id.namespace
              : schema.id.name;
        return { index: -1, convert: null, value };
      }
      const index = schema.columns.findIndex((c) => c.name.toLowerCase() === field.name.toLowerCase());
      const column = schema.columns[index];
      if (column === undefined) {
        throw new TributaryError(
          'SQL_INVALID',
          `table ${scan.table} declares column ${field.name}, which ${tableIdToString(schema.id)} does not have`,
          { hint: `its columns are ${schema.columns.map((c) => c.name).join(', ')}: fix CREATE TABLE ${scan.table}` },
        );
      }
      const convert = castConverter(column.type, field.type, this.timeZone);
      if (typeof convert === 'string') {
        throw new TributaryError(
          'SQL_INVALID',
          `column ${field.name} of ${tableIdToString(schema.id)} cannot be read as declared in ${scan.table}: ${convert}`,
          { hint: 'declare the column with a type its values convert to' },
        );
      }
      const same = JSON.stringify(column.type) === JSON.stringify(field.type);
      return { index, convert: same ? null : convert };
    });
    return { scan, columns: scan.columns.map((i) => declared[i]!) };
  }

  /**
   * The state, opened at the first change when no checkpoint was restored (the job starts from nothing). Not
   * before: an operator that only sees schema events (the sink tables a job writes) leaves the file alone.
   */
  private opened(): DiskStateStore {
    return this.store ?? this.openState(undefined);
  }

  private data(event: DataChangeEvent): void {
    // A batch's events mostly come from one table in a row: its bindings without a key text and a lookup each.
    let bindings = this.lastBindings;
    if (this.lastTable === undefined || !sameTable(event.table, this.lastTable)) {
      bindings = this.bindings.get(tableIdToString(event.table));
      this.lastTable = event.table;
      this.lastBindings = bindings;
    }
    if (bindings === undefined || bindings.length === 0) return;
    // A scan whose old rows may be the key alone keeps its rows by key (ChangelogNormalize): exact all the same.
    if (event.source.snapshotPending === true && !bindings[0]!.scan.keyOnlyBefore) this.snapshotPending(event.table);
    this.opened();
    // One per source time (a transaction's changes share it), not one per change.
    if (this.info.tsMs !== event.source.tsMs) this.info = { tsMs: event.source.tsMs };
    for (const binding of bindings) {
      const before = event.op === 'update' || event.op === 'delete' ? read(binding, event.before) : null;
      const after = event.op === 'delete' ? null : read(binding, event.after);
      // An update that changes no column the query reads passes nothing on — unless its old row may be the key
      // alone (its NULLs are not the old values): ChangelogNormalize then retracts the row it keeps.
      if (before !== null && after !== null && !binding.scan.keyOnlyBefore && sameRow(before, after)) continue;
      if (before !== null) binding.scan.receive(0, { sign: -1, row: before });
      if (after !== null) binding.scan.receive(0, { sign: 1, row: after });
    }
  }

  /**
   * A log change of a row its table's snapshot had not delivered yet, which the source could not leave out (MySQL,
   * keys that are not numbers: docs/02-snapshots.md): the row may reach the query twice, or its retraction before the
   * row. A query's result can then be off (docs/sql.md, "Writes during the snapshot"); said once per table.
   */
  private snapshotPending(table: TableId): void {
    const name = tableIdToString(table);
    if (this.warned.has(name)) return;
    this.warned.add(name);
    this.warn(
      `${name} was written to while its snapshot was read: a row changed meanwhile may be counted twice or taken ` +
        'back before it was counted, so joins and aggregates over it may be off (docs/sql.md, "Writes during the ' +
        'snapshot"). To be sure of the result, rerun the script with --reset while the table is not written to',
    );
  }

  private toSink({ plan, sinkSchema }: SqlQuery, delta: Delta): void {
    const { row } = delta;
    for (const i of plan.sinkKey) {
      if (row[i] === null) {
        throw new TributaryError(
          'SQL_INVALID',
          `the query produced a row whose key column ${sinkSchema.columns[i]!.name} is NULL, which ${tableIdToString(sinkSchema.id)} cannot hold`,
          { hint: 'filter such rows out (WHERE … IS NOT NULL), or COALESCE the key' },
        );
      }
    }
    // An update replaces the row of its key, whose retraction was left out (see `Delta.update`).
    this.output.push(
      delta.sign < 0
        ? { kind: 'data', table: sinkSchema.id, op: 'delete', before: row, after: null, source: this.info }
        : {
            kind: 'data',
            table: sinkSchema.id,
            op: delta.update ? 'update' : 'insert',
            before: null,
            after: row,
            source: this.info,
          },
    );
  }
}

function read(binding: Binding, row: Row | null): Row | null {
  if (row === null) return null;
  return binding.columns.map(({ index, convert, value: metadata }) => {
    if (index < 0) return metadata ?? null;
    const value: Value = row[index] ?? null;
    return value === null || convert === null ? value : convert(value);
  });
}

function sameRow(a: Row, b: Row): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x instanceof Uint8Array && y instanceof Uint8Array && Buffer.from(x).equals(Buffer.from(y))) continue;
    return false;
  }
  return true;
}

function fullMatch(pattern: RegExp, text: string): boolean {
  const match = pattern.exec(text);
  return match !== null && match.index === 0 && match[0].length === text.length;
}

/** The identity of the queries' plans (their EXPLAIN texts) in checkpoints and the state file. */
function planFingerprint(explains: readonly string[]): string {
  return createHash('sha256').update(explains.join('\n\n')).digest('base64url').slice(0, 16);
}
