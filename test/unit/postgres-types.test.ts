import { describe, expect, it } from 'vitest';
import type { DataType } from '../../src/core/data-type.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { TributaryError } from '../../src/core/errors.js';
import { postgresType } from '../../src/connectors/postgres/postgres-types.js';
import {
  checkIdentifier,
  qualifiedName,
  quoteIdent,
  renameTableSql,
} from '../../src/connectors/postgres/postgres-ddl.js';
import { columnChangeSql, createTableSql } from '../../src/connectors/sink-kit/table-ddl.js';

describe('canonical type → PostgreSQL type', () => {
  const cases: [DataType, string][] = [
    [{ kind: 'boolean' }, 'boolean'],
    [{ kind: 'int8' }, 'smallint'],
    [{ kind: 'uint8' }, 'smallint'],
    [{ kind: 'int16' }, 'smallint'],
    [{ kind: 'uint16' }, 'integer'],
    [{ kind: 'int32' }, 'integer'],
    [{ kind: 'uint32' }, 'bigint'],
    [{ kind: 'int64' }, 'bigint'],
    [{ kind: 'uint64' }, 'numeric(20,0)'],
    [{ kind: 'decimal', precision: 65, scale: 30 }, 'numeric(65,30)'],
    [{ kind: 'decimal', precision: 10, scale: 0 }, 'numeric(10,0)'],
    [{ kind: 'float' }, 'real'],
    [{ kind: 'double' }, 'double precision'],
    [{ kind: 'char', length: 1 }, 'char(1)'],
    [{ kind: 'char', length: 0 }, 'text'],
    [{ kind: 'varchar', length: 255 }, 'varchar(255)'],
    [{ kind: 'string' }, 'text'],
    [{ kind: 'binary', length: 16 }, 'bytea'],
    [{ kind: 'varbinary', length: 255 }, 'bytea'],
    [{ kind: 'bytes' }, 'bytea'],
    [{ kind: 'date' }, 'date'],
    [{ kind: 'time', precision: 6 }, 'interval'],
    [{ kind: 'timestamp', precision: 6 }, 'timestamp(6)'],
    [{ kind: 'timestamp', precision: 0 }, 'timestamp(0)'],
    [{ kind: 'timestamptz', precision: 3 }, 'timestamptz(3)'],
    [{ kind: 'year' }, 'smallint'],
    [{ kind: 'json' }, 'jsonb'],
    [{ kind: 'enum', values: ['a', 'b'] }, 'text'],
    [{ kind: 'set', values: ['x', 'y'] }, 'text'],
    [{ kind: 'bit', length: 5 }, 'bit(5)'],
  ];
  it.each(cases)('%j → %s', (type, expected) => {
    expect(postgresType(type)).toBe(expected);
  });
});

describe('DDL', () => {
  it('quotes identifiers exactly: mixed case, reserved words, quotes', () => {
    expect(quoteIdent('Order')).toBe('"Order"');
    expect(quoteIdent('select')).toBe('"select"');
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(qualifiedName({ schema: 'My Schema', table: 'user' })).toBe('"My Schema"."user"');
  });

  it('creates a table with the source key, NOT NULL where the source has it', () => {
    const schema: TableSchema = {
      id: tableId('shop', 'Order'),
      columns: [
        { name: 'id', type: { kind: 'int64' }, nullable: false },
        { name: 'Line', type: { kind: 'int32' }, nullable: false },
        { name: 'from', type: { kind: 'varchar', length: 32 }, nullable: true },
        { name: 'amount', type: { kind: 'decimal', precision: 12, scale: 2 }, nullable: false },
      ],
      primaryKey: ['id', 'Line'],
    };
    expect(createTableSql(qualifiedName({ schema: 'shop', table: 'Order' }), schema, postgresType)).toBe(
      'CREATE TABLE IF NOT EXISTS "shop"."Order" (\n' +
        '  "id" bigint NOT NULL,\n' +
        '  "Line" integer NOT NULL,\n' +
        '  "from" varchar(32),\n' +
        '  "amount" numeric(12,2) NOT NULL,\n' +
        '  PRIMARY KEY ("id", "Line")\n' +
        ')',
    );
  });

  it('adds columns nullable, whatever the source says', () => {
    expect(
      columnChangeSql(qualifiedName({ schema: 'public', table: 't' }), {
        kind: 'add',
        column: { name: 'n', type: { kind: 'int32' }, nullable: false },
        type: 'integer',
      }),
    ).toBe('ALTER TABLE "public"."t" ADD COLUMN IF NOT EXISTS "n" integer');
  });

  it('renames and moves tables in the order PostgreSQL needs', () => {
    expect(renameTableSql({ schema: 'a', table: 'x' }, { schema: 'b', table: 'y' })).toEqual([
      'ALTER TABLE "a"."x" SET SCHEMA "b"',
      'ALTER TABLE "b"."x" RENAME TO "y"',
    ]);
  });

  it('refuses identifiers PostgreSQL would silently truncate', () => {
    expect(() => checkIdentifier('a'.repeat(63), 'table')).not.toThrow();
    const error = (() => {
      try {
        checkIdentifier('a'.repeat(64), 'table');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(TributaryError);
    expect((error as TributaryError).code).toBe('SINK_SCHEMA_MISMATCH');
    // 32 two-byte characters are 64 bytes.
    expect(() => checkIdentifier('ä'.repeat(32), 'column')).toThrow(TributaryError);
  });
});
