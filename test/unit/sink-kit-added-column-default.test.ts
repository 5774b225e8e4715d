import { describe, expect, it } from 'vitest';
import { copyTableSql } from '../../src/connectors/duckdb/duckdb-ddl.js';
import { duckdbType } from '../../src/connectors/duckdb/duckdb-types.js';
import { postgresType } from '../../src/connectors/postgres/postgres-types.js';
import { addedColumnDefaultSql, columnChangeSql } from '../../src/connectors/sink-kit/table-ddl.js';
import {
  planTargetTable,
  plannedColumns,
  type ExistingColumn,
} from '../../src/connectors/sink-kit/target-table-plan.js';
import type { DataType } from '../../src/core/data-type.js';
import { tableId, type Column, type TableSchema } from '../../src/core/table-schema.js';

const col = (name: string, type: DataType, defaultValue?: string): Column => ({
  name,
  type,
  nullable: false,
  ...(defaultValue === undefined ? {} : { defaultValue }),
});
const id = col('id', { kind: 'int32' });
const v1: TableSchema = { id: tableId('s', 't'), columns: [id], primaryKey: ['id'] };
const current: ExistingColumn[] = [{ name: 'id', type: 'integer', notNull: true, hasDefault: false }];
const n = col('n', { kind: 'int32' }, '42');
const v2: TableSchema = { ...v1, columns: [id, n] };

describe('the source default of an added column', () => {
  it('is cast from its canonical text to the sink type, quoted safely; none for binary types or without one', () => {
    expect(addedColumnDefaultSql(n, 'integer')).toBe("CAST('42' AS integer)");
    expect(addedColumnDefaultSql(col('s', { kind: 'string' }, "it's \\ ';--"), 'text')).toBe(
      "CAST('it''s \\ '';--' AS text)",
    );
    const decimal: DataType = { kind: 'decimal', precision: 10, scale: 2 };
    expect(addedColumnDefaultSql(col('d', decimal, '-1.50'), postgresType(decimal))).toBe(
      "CAST('-1.50' AS numeric(10,2))",
    );
    expect(addedColumnDefaultSql(col('b', { kind: 'bytes' }, 'AB'), 'bytea')).toBeUndefined();
    expect(addedColumnDefaultSql(col('x', { kind: 'int32' }), 'integer')).toBeUndefined();
  });

  it('is planned for sink tables (defaultOf), not for changelogs (no defaultOf); the column stays nullable', () => {
    const input = { current, previous: v1, next: v2, renames: [], typeOf: postgresType, sameName: Object.is };
    const withDefault = planTargetTable({ ...input, defaultOf: addedColumnDefaultSql });
    expect(withDefault).toEqual([{ kind: 'add', column: n, type: 'integer', default: "CAST('42' AS integer)" }]);
    expect(columnChangeSql('"s"."t"', withDefault[0]!)).toBe(
      `ALTER TABLE "s"."t" ADD COLUMN IF NOT EXISTS "n" integer DEFAULT CAST('42' AS integer)`,
    );
    const changelog = planTargetTable({ ...input, keepDropped: true });
    expect(changelog).toEqual([{ kind: 'add', column: n, type: 'integer' }]);
    expect(columnChangeSql('"s"."t_log"', changelog[0]!)).toBe(
      'ALTER TABLE "s"."t_log" ADD COLUMN IF NOT EXISTS "n" integer',
    );
  });

  it('fills the rows a DuckDB table rebuild copies', () => {
    const changes = planTargetTable({
      current: [{ name: 'id', type: 'INTEGER', notNull: true, hasDefault: false }],
      previous: v1,
      next: v2,
      renames: [],
      typeOf: duckdbType,
      sameName: (a, b) => a.toLowerCase() === b.toLowerCase(),
      defaultOf: addedColumnDefaultSql,
    });
    const columns = plannedColumns(
      [{ name: 'id', type: 'INTEGER', notNull: true, hasDefault: false }],
      changes,
      (a, b) => a === b,
    );
    expect(columns[1]).toEqual({
      name: 'n',
      type: 'INTEGER',
      notNull: false,
      source: undefined,
      retyped: false,
      default: "CAST('42' AS INTEGER)",
    });
    const name = { catalog: 'c', schema: 's', table: 't' };
    const [create, insert] = copyTableSql(name, { ...name, table: 't2' }, columns, ['id']);
    expect(create).toContain(`"n" INTEGER DEFAULT CAST('42' AS INTEGER)`);
    expect(insert).toBe('INSERT INTO "c"."s"."t2" ("id") SELECT "id" FROM "c"."s"."t"');
  });
});
