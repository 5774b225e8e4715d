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
 * the connection. After a rolled-back transaction call {@link forget}: tables created in it are gone.
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

  /** Forgets every staging table: after a rollback those created in the transaction no longer exist. */
  forget(): void {
    this.tables.clear();
  }
}

/** `base`, or with more leading underscores until no column has that name. */
function freeName(base: string, taken: readonly string[]): string {
  let name = base;
  while (taken.includes(name)) name = `_${name}`;
  return name;
}
