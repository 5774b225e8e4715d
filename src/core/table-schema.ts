import type { DataType } from './data-type.js';

/** A table's identity: `namespace` is the MySQL database or the PostgreSQL schema. */
export interface TableId {
  readonly namespace: string;
  readonly name: string;
}

export function tableId(namespace: string, name: string): TableId {
  return { namespace, name };
}

/** `db.table`, the form that table selectors (regular expressions) are matched against. */
export function tableIdToString(id: TableId): string {
  return `${id.namespace}.${id.name}`;
}

export function sameTable(a: TableId, b: TableId): boolean {
  return a.namespace === b.namespace && a.name === b.name;
}

export interface Column {
  readonly name: string;
  readonly type: DataType;
  readonly nullable: boolean;
  /** The source's own spelling of the type (`bigint(20) unsigned`), for messages and docs. */
  readonly sourceType?: string;
  /**
   * The column's default at the source, as the value a row gets, in the canonical text of its type
   * (docs/01-events.md, "Values"): `'42'`, `'-1.50'` for decimal(10,2), `'abc'`, `'2024-01-01 00:00:00'`,
   * `'a,b'`, `'true'`. Absent when the default is NULL, an expression (CURRENT_TIMESTAMP, uuid(), (1+2)), or
   * of a type whose literal would be ambiguous or is not text (timestamptz, binary/bytes, json). A sink that
   * adds this column to an existing table fills the rows already there with it, as the source did; rows
   * always carry their own value. Plain text, so schemas stay JSON (they are saved in checkpoints).
   */
  readonly defaultValue?: string;
}

/**
 * A table's schema. Rows of this table are arrays in `columns` order. `primaryKey` names columns of
 * `columns`; it is empty only for a table that has no key (such a table cannot be captured without a
 * configured chunk key).
 */
export interface TableSchema {
  readonly id: TableId;
  readonly columns: readonly Column[];
  readonly primaryKey: readonly string[];
}

/** Positions of the primary-key columns in the row array. */
export function primaryKeyIndexes(schema: TableSchema): number[] {
  return schema.primaryKey.map((name) => {
    const index = schema.columns.findIndex((c) => c.name === name);
    if (index < 0) throw new Error(`primary key column ${name} is not a column of ${tableIdToString(schema.id)}`);
    return index;
  });
}
