import type pg from 'pg';
import { dataChange, tableIdToString, type DataChangeEvent, type Value } from '../../core/index.js';
import type { PgTable } from './postgres-source-catalog.js';
import { quoteIdent, quoteTable } from './postgres-source-catalog.js';
import { valueError } from './postgres-source-types.js';

/** One chunk of a table: keys in (`lo`, `hi`], as the server's text; null is the table's start / end. */
export interface SnapshotChunk {
  readonly table: PgTable;
  readonly lo: readonly string[] | null;
  readonly hi: readonly string[] | null;
}

/**
 * Reads tables by key-range chunks in one consistent snapshot: `readers` connections each join the snapshot
 * `snapshotId` (`SET TRANSACTION SNAPSHOT`, REPEATABLE READ, read only) — the one exported when the slot was
 * created, so what they read is the database at exactly the slot's consistent point — and read chunks of a
 * table in parallel. No lock is taken beyond the ACCESS SHARE of a plain SELECT.
 */
export class PgSnapshotReader {
  constructor(
    private readonly readers: readonly pg.Client[],
    private readonly chunkSize: number,
  ) {}

  /** Joins the snapshot on every reader; call before the exporting connection runs another command. */
  async begin(snapshotId: string): Promise<void> {
    await Promise.all(
      this.readers.map(async (reader) => {
        await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        await reader.query(`SET TRANSACTION SNAPSHOT '${snapshotId.replace(/'/g, "''")}'`);
      }),
    );
  }

  async end(): Promise<void> {
    await Promise.all(this.readers.map((reader) => reader.query('COMMIT').catch(() => undefined)));
  }

  /** The table's chunks: boundaries every `chunkSize` keys, found with one pass over the key. */
  async chunks(table: PgTable): Promise<SnapshotChunk[]> {
    const key = table.schema.primaryKey.map(quoteIdent).join(', ');
    const result = await this.readers[0]!.query<string[]>({
      text:
        `SELECT ${key} FROM (SELECT ${key}, row_number() OVER (ORDER BY ${key}) AS tributary_rn ` +
        `FROM ${quoteTable(table.schema.id)}) s WHERE tributary_rn % $1 = 0 ORDER BY tributary_rn`,
      values: [this.chunkSize],
      rowMode: 'array',
    });
    const bounds = result.rows;
    const chunks: SnapshotChunk[] = [];
    let lo: string[] | null = null;
    for (const hi of bounds) {
      chunks.push({ table, lo, hi });
      lo = hi;
    }
    chunks.push({ table, lo, hi: null });
    return chunks;
  }

  /**
   * Reads the chunks of one table with every reader at once and yields each chunk's rows as `read` events as
   * soon as it is read (chunks may finish out of order).
   */
  async *read(chunks: readonly SnapshotChunk[]): AsyncGenerator<DataChangeEvent[]> {
    const free = [...this.readers];
    const running = new Map<number, Promise<{ index: number; reader: pg.Client; events: DataChangeEvent[] }>>();
    let next = 0;
    try {
      while (next < chunks.length || running.size > 0) {
        while (free.length > 0 && next < chunks.length) {
          const reader = free.pop()!;
          const index = next++;
          const chunk = chunks[index]!;
          const work = readChunk(reader, chunk).then((events) => ({ index, reader, events }));
          work.catch(() => undefined);
          running.set(index, work);
        }
        const done = await Promise.race(running.values());
        running.delete(done.index);
        free.push(done.reader);
        yield done.events;
      }
    } finally {
      // A failure or an early return leaves no query unawaited.
      await Promise.allSettled(running.values());
    }
  }
}

async function readChunk(reader: pg.Client, chunk: SnapshotChunk): Promise<DataChangeEvent[]> {
  const { table } = chunk;
  const columns = table.schema.columns.map((c) => quoteIdent(c.name)).join(', ');
  const key = `(${table.schema.primaryKey.map(quoteIdent).join(', ')})`;
  const where: string[] = [];
  const values: string[] = [];
  const params = (bound: readonly string[]): string =>
    `(${bound
      .map((v) => {
        values.push(v);
        return `$${values.length}`;
      })
      .join(', ')})`;
  if (chunk.lo) where.push(`${key} > ${params(chunk.lo)}`);
  if (chunk.hi) where.push(`${key} <= ${params(chunk.hi)}`);
  const result = await reader.query<(string | null)[]>({
    text: `SELECT ${columns} FROM ${quoteTable(table.schema.id)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`,
    values,
    rowMode: 'array',
  });
  const rows = result.rows;
  const name = tableIdToString(table.schema.id);
  return rows.map((row) => dataChange(table.schema.id, 'read', null, convertRow(row, table, name), { tsMs: 0 }));
}

/** A row of server texts → canonical values, by the table's converters (the stream uses the same ones). */
export function convertRow(texts: readonly (string | null)[], table: PgTable, name: string): Value[] {
  const out: Value[] = new Array<Value>(texts.length);
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i];
    if (text === null || text === undefined) {
      out[i] = null;
      continue;
    }
    try {
      out[i] = table.types[i]!.convert(text);
    } catch (error) {
      throw valueError(error, name, table.schema.columns[i]!.name);
    }
  }
  return out;
}
