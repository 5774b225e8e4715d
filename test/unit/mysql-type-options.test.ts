import { describe, expect, it } from 'vitest';
import { TributaryError, type DataType } from '../../src/core/index.js';
import { applyDdl, type DdlApplyContext } from '../../src/connectors/mysql/ddl/ddl-apply.js';
import { parseDdl } from '../../src/connectors/mysql/ddl/ddl-parser.js';
import { mysqlSourceConfig } from '../../src/connectors/mysql/mysql-source-config.js';
import {
  mysqlColumn,
  snapshotValue,
  zeroDateError,
  type MysqlColumnInfo,
  type MysqlTypeOptions,
} from '../../src/connectors/mysql/mysql-types.js';
import { ColumnType } from '../../src/connectors/mysql/protocol/binlog-constants.js';
import { ByteCursor } from '../../src/connectors/mysql/protocol/byte-cursor.js';
import { createColumnDecoder, type ColumnSpec } from '../../src/connectors/mysql/protocol/column-decoders.js';
import { decodeTableMap } from '../../src/connectors/mysql/protocol/table-map-decoder.js';

const BOOLEANS: MysqlTypeOptions = { tinyint1AsBoolean: true, zeroDateHandling: 'null' };
const ERRORS: MysqlTypeOptions = { tinyint1AsBoolean: false, zeroDateHandling: 'error' };

function info(dataType: string, columnType: string): MysqlColumnInfo {
  return {
    name: 'c',
    dataType,
    columnType,
    charLength: null,
    numericPrecision: null,
    numericScale: null,
    datetimePrecision: null,
    charset: null,
    isJson: false,
  };
}

describe('treat-tinyint1-as-boolean.enabled', () => {
  it('maps signed TINYINT(1) to boolean only when enabled; other TINYINTs stay integers', () => {
    const kind = (columnType: string, options?: MysqlTypeOptions): string =>
      mysqlColumn(info('tinyint', columnType), true, options).type.kind;
    expect(kind('tinyint(1)')).toBe('int8');
    expect(kind('tinyint(1)', BOOLEANS)).toBe('boolean');
    expect(kind('tinyint(1) zerofill', BOOLEANS)).toBe('boolean');
    expect(kind('tinyint(1) unsigned', BOOLEANS)).toBe('uint8');
    expect(kind('tinyint(4)', BOOLEANS)).toBe('int8');
    expect(kind('tinyint', BOOLEANS)).toBe('int8'); // MySQL 8.0.19+ without a width
    expect(kind('tinyint(3) unsigned', BOOLEANS)).toBe('uint8');
  });

  it('maps the same in the DDL follower, for MariaDB and MySQL spellings', () => {
    for (const flavor of ['mariadb', 'mysql'] as const) {
      const context: DdlApplyContext = {
        isCaptured: () => true,
        charsets: { server: 'utf8mb4', databases: new Map([['db', 'utf8mb4']]), tables: new Map() },
        flavor,
        typeOptions: BOOLEANS,
      };
      let result = applyDdl(
        new Map(),
        'db',
        parseDdl('CREATE TABLE t (id INT PRIMARY KEY, a BOOL, b BOOLEAN NOT NULL, c TINYINT(1) UNSIGNED, d TINYINT)'),
        context,
      );
      result = applyDdl(result.tables, 'db', parseDdl('ALTER TABLE t ADD COLUMN e TINYINT(1)'), context);
      const columns = result.tables.get('db.t')!.schema.columns;
      expect(columns.map((c) => `${c.name} ${c.type.kind}${c.nullable ? '' : ' not null'}`)).toEqual([
        'id int32 not null',
        'a boolean',
        'b boolean not null',
        'c uint8',
        'd int8',
        'e boolean',
      ]);
    }
  });

  it('reads a boolean snapshot value as the binlog does: every non-zero value is true', () => {
    const type: DataType = { kind: 'boolean' };
    expect(['0', '1', '2', '-1', '-128'].map((v) => snapshotValue(type, Buffer.from(v)))).toEqual([
      false,
      true,
      true,
      true,
      true,
    ]);
    const decode = createColumnDecoder(spec(ColumnType.TINY, 0, type));
    expect(
      [0x00, 0x01, 0x02, 0xff, 0x80].map((b) => decode(Buffer.from([b]), new ByteCursor(Buffer.from([b]), 0, 1))),
    ).toEqual([false, true, true, true, true]);
  });
});

describe('zero-date.handling', () => {
  it('makes DATE, DATETIME and TIMESTAMP nullable under null, and keeps the source nullability under error', () => {
    for (const dataType of ['date', 'datetime', 'timestamp']) {
      expect(mysqlColumn(info(dataType, dataType), false).nullable).toBe(true);
      expect(mysqlColumn(info(dataType, dataType), false, ERRORS).nullable).toBe(false);
      expect(mysqlColumn(info(dataType, dataType), true, ERRORS).nullable).toBe(true);
    }
    expect(mysqlColumn(info('time', 'time'), false).nullable).toBe(false);
  });

  it('keeps NOT NULL temporal key columns NOT NULL in the DDL follower under error', () => {
    const context: DdlApplyContext = {
      isCaptured: () => true,
      charsets: { server: 'utf8mb4', databases: new Map([['db', 'utf8mb4']]), tables: new Map() },
      typeOptions: ERRORS,
    };
    const created = applyDdl(
      new Map(),
      'db',
      parseDdl('CREATE TABLE t (id INT PRIMARY KEY, d DATE NOT NULL, e DATETIME)'),
      context,
    );
    const table = created.tables.get('db.t')!;
    expect(table.zeroDates).toBe('error');
    expect(table.schema.columns.map((c) => c.nullable)).toEqual([false, false, true]);
    const altered = applyDdl(created.tables, 'db', parseDdl('ALTER TABLE t ADD COLUMN f TIMESTAMP NULL'), context);
    expect(altered.tables.get('db.t')!.zeroDates).toBe('error');
  });

  it('reads zero and partial-zero snapshot dates as null, or hands their text over', () => {
    const date: DataType = { kind: 'date' };
    const instant: DataType = { kind: 'timestamptz', precision: 3 };
    expect(snapshotValue(date, Buffer.from('2024-00-10'))).toBeNull();
    expect(snapshotValue(instant, Buffer.from('0000-00-00 00:00:00.000'))).toBeNull();
    const fail = (text: string): never => {
      throw zeroDateError('db.t', 'c', text);
    };
    expect(() => snapshotValue(date, Buffer.from('2024-05-00'), fail)).toThrow(
      "db.t column c holds the date '2024-05-00'",
    );
    expect(snapshotValue(date, Buffer.from('2024-05-01'), fail)).toBe('2024-05-01');
  });

  it('hands the binlog text of zero dates over exactly as a SELECT prints it', () => {
    const seen: string[] = [];
    const collect = (text: string): never => {
      seen.push(text);
      throw new Error('zero');
    };
    const read = (wire: number, meta: number, type: DataType, bytes: number[]): unknown => {
      const buf = Buffer.from(bytes);
      try {
        return createColumnDecoder({ ...spec(wire, meta, type), onZeroDate: collect })(
          buf,
          new ByteCursor(buf, 0, buf.length),
        );
      } catch {
        return 'thrown';
      }
    };
    // DATE 2024-00-10: day 10, month 0, year 2024 → (2024 << 9) | 10
    const d = (2024 << 9) | 10;
    expect(read(ColumnType.DATE, 0, { kind: 'date' }, [d & 0xff, (d >> 8) & 0xff, d >> 16])).toBe('thrown');
    // DATETIME2(3) zero: 0x8000000000 then two fraction bytes
    expect(read(ColumnType.DATETIME2, 3, { kind: 'timestamp', precision: 3 }, [0x80, 0, 0, 0, 0, 0, 0])).toBe('thrown');
    // TIMESTAMP2(0) zero: seconds 0
    expect(read(ColumnType.TIMESTAMP2, 0, { kind: 'timestamptz', precision: 0 }, [0, 0, 0, 0])).toBe('thrown');
    // A real date is not affected: 2024-05-01
    const real = (2024 << 9) | (5 << 5) | 1;
    expect(read(ColumnType.DATE, 0, { kind: 'date' }, [real & 0xff, (real >> 8) & 0xff, real >> 16])).toBe(
      '2024-05-01',
    );
    expect(seen).toEqual(['2024-00-10', '0000-00-00 00:00:00.000', '0000-00-00 00:00:00']);
  });

  it('is an error naming table, column and value, not retryable, with the fix in the hint', () => {
    const error = zeroDateError('shop.orders', 'shipped', '0000-00-00');
    expect(error).toBeInstanceOf(TributaryError);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("shop.orders column shipped holds the date '0000-00-00'");
    expect(error.hint).toContain('zero-date.handling: null');
  });
});

describe('mysqlSourceConfig type options', () => {
  it('defaults to no change of the mapping', () => {
    const config = mysqlSourceConfig({ username: 'u', tables: 'db.t' });
    expect([config.tinyint1AsBoolean, config.zeroDateHandling]).toEqual([false, 'null']);
    const set = mysqlSourceConfig({
      username: 'u',
      tables: 'db.t',
      'treat-tinyint1-as-boolean.enabled': true,
      'zero-date.handling': 'error',
    });
    expect([set.tinyint1AsBoolean, set.zeroDateHandling]).toEqual([true, 'error']);
  });
});

describe('table-map signedness', () => {
  // db.t (y YEAR, big BIGINT) with a SIGNEDNESS field whose first bit is set.
  const body = Buffer.from([
    ...[7, 0, 0, 0, 0, 0], // table id
    ...[1, 0], // flags
    ...[2, ...Buffer.from('db'), 0],
    ...[1, ...Buffer.from('t'), 0],
    2, // columns
    ColumnType.YEAR,
    ColumnType.LONGLONG,
    0, // no column metadata
    0b11, // both nullable
    ...[1, 1, 0x80], // SIGNEDNESS: first bit set
  ]);

  it('counts YEAR among the numeric columns on MariaDB, so a BIGINT after a YEAR keeps its own bit', () => {
    expect(decodeTableMap(body, 0, body.length, 6, 'mariadb').signedness).toEqual(['unsigned', 'signed']);
    expect(decodeTableMap(body, 0, body.length, 6, 'mysql').signedness).toEqual([undefined, 'unsigned']);
  });
});

function spec(wireType: number, meta: number, type: DataType): ColumnSpec {
  return { wireType, meta, type, charset: undefined, unsigned: false, labels: undefined };
}
