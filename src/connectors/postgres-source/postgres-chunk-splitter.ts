import type pg from 'pg';
import type { Value } from '../../core/index.js';
import type { ChunkRange, TableChunkSplitter } from '../source-kit/index.js';
import { quoteIdent, quoteTable, type PgTable } from './postgres-source-catalog.js';

/**
 * Splits a table into key-range chunks lazily, one boundary at a time (`… WHERE key > lo ORDER BY key OFFSET
 * n-1 LIMIT 1`), so that a large table never has all its boundaries in memory and keys compare as the server
 * compares them (collations, composite keys). Boundaries stay the server's text of the key values: they only go
 * back to the server as parameters and into the checkpoint, never into rows.
 */
export class PgChunkSplitter implements TableChunkSplitter<PgTable> {
  private lo: string[] | null;
  private finished = false;

  constructor(
    private readonly client: pg.Client,
    private readonly table: PgTable,
    private readonly chunkSize: number,
    start: Value[] | null,
  ) {
    this.lo = start === null ? null : start.map((v) => String(v));
  }

  async next(): Promise<ChunkRange<PgTable> | null> {
    if (this.finished) return null;
    const lo = this.lo;
    const hi = await this.boundaryAfter(lo);
    this.lo = hi;
    if (hi === null) this.finished = true;
    return { table: this.table, lo, hi };
  }

  skipTo(hi: Value[] | null): void {
    this.lo = hi === null ? null : hi.map((v) => String(v));
    if (hi === null) this.finished = true;
  }

  private async boundaryAfter(lo: readonly string[] | null): Promise<string[] | null> {
    const { schema } = this.table;
    const key = schema.primaryKey.map(quoteIdent).join(', ');
    const values: string[] = [];
    const where = lo ? ` WHERE ${keyAfter(schema.primaryKey, lo, values)}` : '';
    const result = await this.client.query<string[]>({
      text: `SELECT ${key} FROM ${quoteTable(schema.id)}${where} ORDER BY ${key} OFFSET ${this.chunkSize - 1} LIMIT 1`,
      values,
      rowMode: 'array',
    });
    const row = result.rows[0];
    return row ? row.map((v) => String(v)) : null;
  }
}

/** `(k1, k2) > ($1, $2)`, the bound's texts appended to `values` (the server infers their types). */
export function keyAfter(key: readonly string[], bound: readonly string[], values: string[]): string {
  return `(${key.map(quoteIdent).join(', ')}) > (${params(bound, values)})`;
}

/** `(k1, k2) <= ($1, $2)` */
export function keyAtMost(key: readonly string[], bound: readonly string[], values: string[]): string {
  return `(${key.map(quoteIdent).join(', ')}) <= (${params(bound, values)})`;
}

function params(bound: readonly string[], values: string[]): string {
  return bound
    .map((v) => {
      values.push(v);
      return `$${values.length}`;
    })
    .join(', ');
}
