import { describe, expect, it } from 'vitest';
import { duckdbTransportType, duckdbType } from '../../src/connectors/duckdb/duckdb-types.js';
import type { DataType } from '../../src/core/data-type.js';

describe('duckdbType', () => {
  it.each<[DataType, string, string]>([
    [{ kind: 'boolean' }, 'BOOLEAN', 'BOOLEAN'],
    [{ kind: 'int8' }, 'TINYINT', 'TINYINT'],
    [{ kind: 'int16' }, 'SMALLINT', 'SMALLINT'],
    [{ kind: 'int32' }, 'INTEGER', 'INTEGER'],
    [{ kind: 'int64' }, 'BIGINT', 'BIGINT'],
    [{ kind: 'uint8' }, 'UTINYINT', 'UTINYINT'],
    [{ kind: 'uint16' }, 'USMALLINT', 'USMALLINT'],
    [{ kind: 'uint32' }, 'UINTEGER', 'UINTEGER'],
    [{ kind: 'uint64' }, 'UBIGINT', 'UBIGINT'],
    [{ kind: 'year' }, 'SMALLINT', 'SMALLINT'],
    [{ kind: 'decimal', precision: 7, scale: 2 }, 'DECIMAL(7,2)', 'VARCHAR'],
    [{ kind: 'decimal', precision: 38, scale: 0 }, 'DECIMAL(38,0)', 'VARCHAR'],
    [{ kind: 'decimal', precision: 38, scale: 38 }, 'DECIMAL(38,38)', 'VARCHAR'],
    [{ kind: 'float' }, 'FLOAT', 'FLOAT'],
    [{ kind: 'double' }, 'DOUBLE', 'DOUBLE'],
    [{ kind: 'char', length: 16 }, 'VARCHAR', 'VARCHAR'],
    [{ kind: 'varchar', length: 255 }, 'VARCHAR', 'VARCHAR'],
    [{ kind: 'string' }, 'VARCHAR', 'VARCHAR'],
    [{ kind: 'enum', values: ['a', 'b'] }, 'VARCHAR', 'VARCHAR'],
    [{ kind: 'set', values: ['a', 'b'] }, 'VARCHAR', 'VARCHAR'],
    [{ kind: 'binary', length: 4 }, 'BLOB', 'BLOB'],
    [{ kind: 'varbinary', length: 4 }, 'BLOB', 'BLOB'],
    [{ kind: 'bytes' }, 'BLOB', 'BLOB'],
    [{ kind: 'date' }, 'DATE', 'VARCHAR'],
    [{ kind: 'time', precision: 6 }, 'INTERVAL', 'VARCHAR'],
    [{ kind: 'timestamp', precision: 6 }, 'TIMESTAMP', 'VARCHAR'],
    [{ kind: 'timestamp', precision: 0 }, 'TIMESTAMP', 'VARCHAR'],
    [{ kind: 'timestamptz', precision: 3 }, 'TIMESTAMPTZ', 'VARCHAR'],
    [{ kind: 'json' }, 'JSON', 'VARCHAR'],
    [{ kind: 'bit', length: 5 }, 'BIT', 'VARCHAR'],
  ])('%j → %s (travels as %s)', (type, expected, transport) => {
    expect(duckdbType(type)).toBe(expected);
    expect(duckdbTransportType(type)).toBe(transport);
  });

  it('keeps decimals wider than DuckDB allows as exact text', () => {
    expect(duckdbType({ kind: 'decimal', precision: 39, scale: 2 })).toBe('VARCHAR');
    expect(duckdbType({ kind: 'decimal', precision: 65, scale: 30 })).toBe('VARCHAR');
  });

  it('keeps decimals with an impossible precision or scale as exact text', () => {
    expect(duckdbType({ kind: 'decimal', precision: 0, scale: 0 })).toBe('VARCHAR');
    expect(duckdbType({ kind: 'decimal', precision: 5, scale: 6 })).toBe('VARCHAR');
    expect(duckdbType({ kind: 'decimal', precision: 5, scale: -1 })).toBe('VARCHAR');
  });
});
