import {
  TributaryError,
  tableIdToString,
  uncomparable,
  type ChangeEvent,
  type ChecksumTable,
  type ChunkChecksum,
  type KeyBound,
  type Operator,
  type TableChecksums,
  type TableSchema,
} from '../core/index.js';

export interface VerifyOptions {
  /** Rows per chunk (by the source's key order). Default 10,000. */
  readonly chunkSize?: number;
  /** Before a differing chunk is checked again: how long the pipeline gets to deliver in-flight changes. */
  readonly recheckWaitMs?: number;
  /** How often a differing chunk is checked again before it counts as different. Default 2. */
  readonly rechecks?: number;
  /** Differing keys listed per table and kind (all are counted). Default 20. */
  readonly maxKeys?: number;
  readonly onProgress?: (line: string) => void;
  /**
   * Called for each chunk that still differs after the rechecks, with every differing key of it (canonical key
   * texts): those in the source (missing in the sink or different) and those only in the sink. For `--repair`.
   */
  readonly onDifference?: (difference: ChunkDifference) => Promise<void>;
}

/** The differing keys of one chunk, as {@link VerifyOptions.onDifference} receives them. */
export interface ChunkDifference {
  /** The chunk: keys in (`lo`, `hi`]. */
  readonly lo: KeyBound;
  readonly hi: KeyBound;
  /** Keys whose source row is missing in the sink or differs there. */
  readonly inSource: readonly string[];
  /** Keys only in the sink. */
  readonly onlyInSink: readonly string[];
}

/** What verify found for one source table. */
export interface TableVerification {
  readonly source: string;
  readonly sink: string;
  readonly sourceRows: number;
  readonly sinkRows: number;
  readonly chunks: number;
  /** Chunks that differed on every check. */
  readonly differingChunks: number;
  /** Keys (canonical text) in the source, not in the sink. */
  readonly missing: readonly string[];
  /** Keys in the sink (for this source table), not in the source. */
  readonly extra: readonly string[];
  /** Keys whose rows differ. */
  readonly changed: readonly string[];
  readonly differingKeys: number;
  /** Source columns left out of the comparison (types printed differently by the two servers; not in the sink). */
  readonly skippedColumns: readonly string[];
  readonly ms: number;
}

/** How one source table is compared: its columns and key on both sides, and the sink rows that are its own. */
export interface VerifyPlan {
  readonly source: ChecksumTable;
  readonly sink: ChecksumTable;
  readonly skippedColumns: readonly string[];
}

/**
 * Plans the comparison of `schema` through the pipeline's transform and route: a fresh operator receives the
 * table's `createTable` event and an all-NULL row, which give the sink table, its columns and the values of
 * the columns the transform adds (metadata columns such as `__table_name__`), by which the sink rows of this
 * source table are selected in a merged table.
 */
export function planVerification(schema: TableSchema, operator: Operator): VerifyPlan {
  const source = { tsMs: 0 };
  const out: readonly ChangeEvent[] = operator.process([
    { kind: 'schema', table: schema.id, change: 'createTable', schema, source },
    { kind: 'data', table: schema.id, op: 'insert', before: null, after: schema.columns.map(() => null), source },
  ]);
  const schemaEvent = [...out].reverse().find((e) => e.kind === 'schema');
  const data = out.find((e) => e.kind === 'data');
  if (schemaEvent?.kind !== 'schema' || data?.kind !== 'data' || !data.after) {
    throw new TributaryError('CONFIG_INVALID', `verify: the transform drops the rows of ${tableIdToString(schema.id)}`);
  }
  const output = schemaEvent.schema;
  const sourceNames = new Set(schema.columns.map((c) => c.name));
  const outputNames = new Set(output.columns.map((c) => c.name));
  const compared = schema.columns.filter((c) => outputNames.has(c.name) && !uncomparable(c.type));
  const skippedColumns = schema.columns.filter((c) => !compared.includes(c)).map((c) => c.name);
  const filter = output.columns.flatMap((c, i) => {
    const value = data.after![i];
    if (sourceNames.has(c.name)) return [];
    if (typeof value === 'string') return [{ column: c.name, value }];
    if (typeof value === 'number' || typeof value === 'bigint') return [{ column: c.name, value: value.toString() }];
    return [];
  });
  const key = schema.primaryKey;
  if (key.length === 0 || key.some((k) => !compared.some((c) => c.name === k))) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `verify: ${tableIdToString(schema.id)} has no key verify can range over (${key.join(', ') || 'none'})`,
      { hint: 'verify compares tables by a primary key of integer, decimal, text, date or binary columns' },
    );
  }
  return {
    source: { table: schema.id, columns: compared, key },
    sink: { table: schemaEvent.schema.id, columns: compared, key, filter },
    skippedColumns,
  };
}

/**
 * Compares one source table with its rows in the sink: the source's key split into chunks of `chunkSize`
 * rows, per chunk a checksum on both sides computed by the servers (SQL aggregates), chunks that differ checked
 * again after `recheckWaitMs` (changes in flight reach the sink meanwhile), and for those that still differ the
 * per-row hashes of that chunk compared to name the keys.
 */
export async function verifyTable(
  plan: VerifyPlan,
  source: TableChecksums,
  sink: TableChecksums,
  options: VerifyOptions = {},
): Promise<TableVerification> {
  const started = Date.now();
  const chunkSize = options.chunkSize ?? 10_000;
  const maxKeys = options.maxKeys ?? 20;
  const bounds = await source.keyBoundaries(plan.source, chunkSize);
  const ranges: [KeyBound, KeyBound][] = [];
  let lo: KeyBound = null;
  for (const b of bounds) {
    ranges.push([lo, b]);
    lo = b;
  }
  ranges.push([lo, null]);

  let sourceRows = 0;
  let sinkRows = 0;
  let differing: [KeyBound, KeyBound][] = [];
  for (const [i, [from, to]] of ranges.entries()) {
    const [a, b] = await Promise.all([source.chunk(plan.source, from, to), sink.chunk(plan.sink, from, to)]);
    sourceRows += a.rows;
    sinkRows += b.rows;
    if (!same(a, b)) differing.push([from, to]);
    if ((i + 1) % 100 === 0)
      options.onProgress?.(`  ${tableIdToString(plan.source.table)}: ${i + 1} of ${ranges.length} chunks`);
  }
  for (let round = 0; round < (options.rechecks ?? 2) && differing.length > 0; round++) {
    await new Promise((resolve) => setTimeout(resolve, options.recheckWaitMs ?? 3000));
    const still: [KeyBound, KeyBound][] = [];
    for (const [from, to] of differing) {
      const [a, b] = await Promise.all([source.chunk(plan.source, from, to), sink.chunk(plan.sink, from, to)]);
      if (!same(a, b)) still.push([from, to]);
    }
    differing = still;
  }

  const missing: string[] = [];
  const extra: string[] = [];
  const changed: string[] = [];
  for (const [from, to] of differing) {
    const [a, b] = await Promise.all([source.rowHashes(plan.source, from, to), sink.rowHashes(plan.sink, from, to)]);
    const inSource: string[] = [];
    const onlyInSink: string[] = [];
    for (const [key, hash] of a) {
      const other = b.get(key);
      if (other === undefined) missing.push(key);
      else if (other !== hash) changed.push(key);
      if (other !== hash) inSource.push(key);
    }
    for (const key of b.keys()) {
      if (a.has(key)) continue;
      extra.push(key);
      onlyInSink.push(key);
    }
    await options.onDifference?.({ lo: from, hi: to, inSource, onlyInSink });
  }
  const byKey = (x: string, y: string) => x.localeCompare(y, 'en', { numeric: true });
  return {
    source: tableIdToString(plan.source.table),
    sink: tableIdToString(plan.sink.table),
    sourceRows,
    sinkRows,
    chunks: ranges.length,
    differingChunks: differing.length,
    missing: missing.sort(byKey).slice(0, maxKeys),
    extra: extra.sort(byKey).slice(0, maxKeys),
    changed: changed.sort(byKey).slice(0, maxKeys),
    differingKeys: missing.length + extra.length + changed.length,
    skippedColumns: plan.skippedColumns,
    ms: Date.now() - started,
  };
}

function same(a: ChunkChecksum, b: ChunkChecksum): boolean {
  return a.rows === b.rows && a.sum === b.sum;
}
