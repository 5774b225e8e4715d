import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import type { DataType, DataTypeKind } from '../../src/core/data-type.js';
import { tableId } from '../../src/core/table-schema.js';
import { normalizeText } from './canonical-text.js';
import { mysqlRows } from './compare.js';
import { freshPostgresDatabase, uniqueName, waitFor, type FreshPostgresDatabase } from './databases.js';
import { startTestPipeline, type RunningPipeline } from './pipelines.js';
import { readDuckdbTable } from './duckdb-table-text.js';
import { readPostgresTable } from './postgres-table-text.js';
import type { SinkTable } from './sink-conformance.js';

/**
 * One column of a type conformance table: its MySQL definition, the values written to it (SQL literals, one
 * per row; rows beyond them get NULL) and the canonical type kind it arrives as.
 */
export interface TypeProbe {
  readonly name: string;
  /** The column definition after the name: `BIGINT UNSIGNED`, `INT AS (a + 1) VIRTUAL`, `INT INVISIBLE`. */
  readonly definition: string;
  readonly kind: DataTypeKind;
  /** SQL literals, one per row; empty for generated columns (the server computes them). */
  readonly values: readonly string[];
}

/** `CREATE TABLE db.table (id INT PRIMARY KEY, <probes>)`. */
export function createProbeTable(db: string, table: string, probes: readonly TypeProbe[]): string {
  const columns = probes.map((p) => `\`${p.name}\` ${p.definition}`).join(',\n  ');
  return `CREATE TABLE \`${db}\`.\`${table}\` (\n  id INT PRIMARY KEY,\n  ${columns}\n)`;
}

/** One INSERT per row (so one bad literal names its row), ids 1…rows; generated columns are left to the server. */
export function insertProbeRows(db: string, table: string, probes: readonly TypeProbe[], rows: number): string[] {
  const written = probes.filter((p) => p.values.length > 0 || !/\bAS\s*\(/i.test(p.definition));
  const names = ['id', ...written.map((p) => `\`${p.name}\``)].join(', ');
  return Array.from({ length: rows }, (_, r) => {
    const values = [String(r + 1), ...written.map((p) => p.values[r] ?? 'NULL')].join(', ');
    return `INSERT INTO \`${db}\`.\`${table}\` (${names}) VALUES (${values})`;
  });
}

/** Rows as canonical text, `id` first, in id order. */
export type ProbeRows = (string | null)[][];

/** A zero or partial-zero date in the text MySQL prints ('0000-00-00', '2024-00-10 …'). */
const ZERO_DATE = /^\d{4}-00-|^\d{4}-\d{2}-00/;

/**
 * What the source returns for `SELECT`, as the canonical text the documented mapping promises
 * (docs/type-mapping.md): integers, decimals and dates as printed; FLOAT/DOUBLE as the stored binary value
 * (read as a DOUBLE expression: the text protocol rounds FLOAT to 6 digits); BIT as n binary digits; bytes
 * as hex; TIMESTAMP in UTC with a `Z` (the session is switched to UTC for the read); zero dates NULL.
 */
export async function sourceProbeRows(
  conn: Connection,
  db: string,
  table: string,
  probes: readonly TypeProbe[],
): Promise<ProbeRows> {
  const select = probes.map((p) => sourceExpression(p)).join(', ');
  const [[zone]] = (await conn.query('SELECT @@session.time_zone AS z')) as unknown as [[{ z: string }]];
  await conn.query("SET SESSION time_zone = '+00:00'");
  try {
    const rows = await mysqlRows(conn, `SELECT CAST(id AS CHAR), ${select} FROM \`${db}\`.\`${table}\` ORDER BY id`);
    return rows.map((row) => [row[0] ?? null, ...probes.map((p, i) => sourceText(p, row[i + 1] ?? null))]);
  } finally {
    await conn.query('SET SESSION time_zone = ?', [zone.z]);
  }
}

function sourceExpression(probe: TypeProbe): string {
  const c = `\`${probe.name}\``;
  const bits = /^BIT\((\d+)\)/i.exec(probe.definition);
  if (bits) return `LPAD(BIN(${c}), ${bits[1]}, '0')`;
  switch (probe.kind) {
    case 'float':
    case 'double':
      return `${c} + 0e0`;
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return `LOWER(HEX(${c}))`;
    case 'boolean':
      return `CASE WHEN ${c} IS NULL THEN NULL WHEN ${c} <> 0 THEN 'true' ELSE 'false' END`;
    case 'year':
      return `CAST(${c} + 0 AS CHAR)`;
    default:
      return `CAST(${c} AS CHAR)`;
  }
}

function sourceText(probe: TypeProbe, text: string | null): string | null {
  if (text === null) return null;
  const type = { kind: probe.kind } as DataType;
  switch (probe.kind) {
    case 'float':
      return String(Math.fround(Number(text)));
    case 'double':
      return String(Number(text));
    case 'date':
    case 'timestamp':
      return ZERO_DATE.test(text) ? null : normalizeText(text, type);
    case 'timestamptz':
      return ZERO_DATE.test(text) ? null : normalizeText(`${text}Z`, type);
    default:
      return normalizeText(text, type);
  }
}

/** A sink table of probes as canonical text, normalised by the probes' kinds, in id order. */
export function probeRowsOf(table: SinkTable | undefined, probes: readonly TypeProbe[]): ProbeRows | undefined {
  if (table === undefined) return undefined;
  const kinds = new Map<string, DataTypeKind>(probes.map((p) => [p.name, p.kind]));
  const order = ['id', ...probes.map((p) => p.name)].map((name) => table.columns.indexOf(name));
  if (order.some((i) => i < 0)) throw new Error(`sink table lacks columns: ${table.columns.join(', ')}`);
  return table.rows
    .map((row) =>
      order.map((i) => {
        const value = row[i] ?? null;
        const kind = kinds.get(table.columns[i]!);
        return value === null || kind === undefined ? value : normalizeText(value, { kind } as DataType);
      }),
    )
    .sort((a, b) => Number(a[0]) - Number(b[0]));
}

/** Where a pipeline under test writes, and how to read a table of it back as canonical text. */
export interface ProbeSink {
  readonly label: string;
  /** `sinkUrl` / `sinkYaml` for startTestPipeline. */
  readonly pipeline: { readonly sinkUrl?: string; readonly sinkYaml?: string };
  read(db: string, table: string, probes: readonly TypeProbe[]): Promise<ProbeRows | undefined>;
}

export function postgresProbeSink(database: FreshPostgresDatabase): ProbeSink {
  return {
    label: 'postgres',
    pipeline: { sinkUrl: database.url },
    read: async (db, table, probes) => probeRowsOf(await readPostgresTable(database, tableId(db, table)), probes),
  };
}

export function duckdbProbeSink(path: string): ProbeSink {
  return {
    label: 'duckdb',
    pipeline: { sinkYaml: `  type: duckdb\n  path: ${path}` },
    read: async (db, table, probes) => probeRowsOf(await readDuckdbTable(path, tableId(db, table)), probes),
  };
}

/**
 * Waits until every sink holds `rows` rows of `db.table` (and they satisfy `until`); a pipeline that stopped
 * meanwhile fails the wait at once with its error and its last log lines.
 */
export async function waitForProbeRows(
  sinks: readonly ProbeSink[],
  pipelines: readonly RunningPipeline[],
  db: string,
  table: string,
  probes: readonly TypeProbe[],
  rows: number,
  until: (rows: ProbeRows) => boolean = () => true,
): Promise<void> {
  let failure: Error | undefined;
  for (const pipeline of pipelines) {
    pipeline.done.then(
      () => (failure ??= new Error('the pipeline stopped')),
      (error: unknown) => (failure ??= error instanceof Error ? error : new Error(String(error))),
    );
  }
  for (const sink of sinks) {
    await waitFor(
      async () => {
        if (failure !== undefined) {
          const logs = pipelines.flatMap((p) => p.logs.slice(-15)).join('\n');
          throw new Error(`a pipeline failed: ${failure.message}\n${logs}`, { cause: failure });
        }
        const held = await sink.read(db, table, probes);
        return held?.length === rows && until(held);
      },
      { timeoutMs: 60_000, message: `${sink.label} to hold ${rows} rows of ${db}.${table}` },
    );
  }
}

/** A fresh PostgreSQL database and DuckDB file for type probes: both sinks, and how to remove them. */
export interface ProbeTargets {
  readonly postgres: FreshPostgresDatabase;
  readonly sinks: readonly ProbeSink[];
  drop(): Promise<void>;
}

export async function probeTargets(prefix: string): Promise<ProbeTargets> {
  const postgres = await freshPostgresDatabase(prefix);
  const dir = await mkdtemp(join(tmpdir(), `tributary-${prefix}-`));
  return {
    postgres,
    sinks: [postgresProbeSink(postgres), duckdbProbeSink(join(dir, `${prefix}.duckdb`))],
    drop: async () => {
      await postgres.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One pipeline per sink over `tables`, with `sourceYaml` (lines inside `source:`) if given. */
export async function startProbePipelines(
  sinks: readonly ProbeSink[],
  prefix: string,
  tables: string,
  sourceYaml?: string,
): Promise<RunningPipeline[]> {
  const running: RunningPipeline[] = [];
  for (const sink of sinks) {
    running.push(
      await startTestPipeline({
        name: uniqueName(`${prefix}-${sink.label}`),
        tables,
        ...(sourceYaml === undefined ? {} : { sourceYaml }),
        ...sink.pipeline,
      }),
    );
  }
  return running;
}
