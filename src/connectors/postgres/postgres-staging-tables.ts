import type pg from 'pg';
import { quoteIdent } from './postgres-ddl.js';
import type { TargetTable } from './postgres-target-tables.js';

/**
 * A session-local TEMP table shaped like one target table: a sequence column, an operation column (`u` upsert,
 * `d` delete) and the target's columns with the target's types, so that COPY checks every value against the
 * real column type. `ON COMMIT DELETE ROWS`: it holds rows only until the transaction ends.
 */
export interface StagingTable {
  /** `pg_temp."…"`, ready for SQL. */
  readonly sql: string;
  /** The target it is shaped like. */
  readonly target: TargetTable;
  /** Quoted names of the sequence and operation columns (chosen not to collide with a target column). */
  readonly seqColumn: string;
  readonly opColumn: string;
  /** Quoted target column names, in target order. */
  readonly columns: readonly string[];
}

/**
 * Creates staging tables on first use per target table and column layout, and remembers them for the life of
 * the connection — at most as many as {@link trim} keeps. After a rolled-back transaction call {@link forget}:
 * tables created in it are gone.
 *
 * Why a bound: at every commit PostgreSQL truncates *every* `ON COMMIT DELETE ROWS` table of the session once
 * the transaction touched any temporary table, each under an exclusive lock held until the commit ends. A
 * session that had written 10,000 tables would need 10,000 × 3 lock table entries at each commit (the table,
 * its TOAST table and index) — out of shared memory, however few tables the transaction itself touched.
 */
export class PostgresStagingTables {
  private readonly tables = new Map<string, { readonly layout: string; readonly staging: StagingTable }>();
  private counter = 0;

  constructor(private readonly client: pg.Client) {}

  async for(target: TargetTable): Promise<StagingTable> {
    const key = `${target.name.schema}\u0000${target.name.table}`;
    const names = target.schema.columns.map((c) => c.name);
    const layout = JSON.stringify([names, target.columnTypes]);
    const existing = this.tables.get(key);
    if (existing !== undefined) {
      // Most recently used last, for trim().
      this.tables.delete(key);
      this.tables.set(key, existing);
    }
    if (existing !== undefined && existing.layout === layout) {
      // The same layout checked against a newer schema object: keep the table, refresh what it is shaped like.
      if (existing.staging.target !== target) {
        const staging = { ...existing.staging, target };
        this.tables.set(key, { layout, staging });
        return staging;
      }
      return existing.staging;
    }

    const seq = freeName('_tributary_seq', names);
    const op = freeName('_tributary_op', names);
    const name = `tributary_staging_${++this.counter}`;
    const definitions = [`${quoteIdent(seq)} bigint`, `${quoteIdent(op)} "char" NOT NULL`];
    names.forEach((column, i) => definitions.push(`${quoteIdent(column)} ${target.columnTypes[i] ?? 'text'}`));
    const statements: string[] = [];
    if (existing !== undefined) statements.push(`DROP TABLE IF EXISTS ${existing.staging.sql}`);
    statements.push(`CREATE TEMP TABLE ${quoteIdent(name)} (${definitions.join(', ')}) ON COMMIT DELETE ROWS`);
    await this.client.query(statements.join(';\n'));
    const staging: StagingTable = {
      sql: `pg_temp.${quoteIdent(name)}`,
      target,
      seqColumn: quoteIdent(seq),
      opColumn: quoteIdent(op),
      columns: names.map(quoteIdent),
    };
    this.tables.set(key, { layout, staging });
    return staging;
  }

  /**
   * Drops the least recently used staging tables beyond `keep`, outside a transaction (each DROP statement in
   * its own, of at most {@link DROP_PER_STATEMENT} tables, so that dropping needs few locks at a time).
   */
  async trim(keep: number): Promise<void> {
    const excess = this.tables.size - Math.max(0, keep);
    if (excess <= 0) return;
    const victims = [...this.tables.entries()].slice(0, excess);
    for (let i = 0; i < victims.length; i += DROP_PER_STATEMENT) {
      const chunk = victims.slice(i, i + DROP_PER_STATEMENT);
      await this.client.query(`DROP TABLE IF EXISTS ${chunk.map(([, t]) => t.staging.sql).join(', ')}`);
      for (const [key] of chunk) this.tables.delete(key);
    }
  }

  get size(): number {
    return this.tables.size;
  }

  /** Forgets every staging table: after a rollback those created in the transaction no longer exist. */
  forget(): void {
    this.tables.clear();
  }
}

/** Staging tables dropped per statement by {@link PostgresStagingTables.trim}: about 3 locks each. */
const DROP_PER_STATEMENT = 50;

/** `base`, or with more leading underscores until no column has that name. */
function freeName(base: string, taken: readonly string[]): string {
  let name = base;
  while (taken.includes(name)) name = `_${name}`;
  return name;
}
