import type { DataType } from '../../core/data-type.js';

/**
 * SQL type names (Flink SQL's spelling, as in `CAST(x AS DECIMAL(10, 2))`) → canonical types, and the type
 * families the expression compiler reasons with.
 */
export function parseSqlType(text: string): DataType | string {
  const normalized = text.trim().toUpperCase().replace(/\s+/g, ' ');
  const m = /^([A-Z_ ]+?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?( NOT NULL)?$/.exec(normalized);
  if (m === null) return `"${text}" is not a type`;
  const name = (m[1] ?? '').trim();
  const a = m[2] === undefined ? undefined : Number(m[2]);
  const b = m[3] === undefined ? undefined : Number(m[3]);
  const p = (fallback: number) => a ?? fallback;
  switch (name) {
    case 'BOOLEAN':
    case 'BOOL':
      return { kind: 'boolean' };
    case 'TINYINT':
      return { kind: 'int8' };
    case 'SMALLINT':
      return { kind: 'int16' };
    case 'INT':
    case 'INTEGER':
      return { kind: 'int32' };
    case 'BIGINT':
      return { kind: 'int64' };
    case 'FLOAT':
    case 'REAL':
      return { kind: 'float' };
    case 'DOUBLE':
    case 'DOUBLE PRECISION':
      return { kind: 'double' };
    case 'DECIMAL':
    case 'DEC':
    case 'NUMERIC': {
      const precision = p(10);
      const scale = b ?? 0;
      if (precision < 1 || precision > 38 || scale > precision)
        return `${text}: precision is 1..38 and scale at most the precision`;
      return { kind: 'decimal', precision, scale };
    }
    case 'CHAR':
      return { kind: 'char', length: p(1) };
    case 'VARCHAR':
      return a === undefined ? { kind: 'string' } : { kind: 'varchar', length: a };
    case 'STRING':
    case 'TEXT':
      return { kind: 'string' };
    case 'BINARY':
      return { kind: 'binary', length: p(1) };
    case 'VARBINARY':
      return a === undefined ? { kind: 'bytes' } : { kind: 'varbinary', length: a };
    case 'BYTES':
      return { kind: 'bytes' };
    case 'DATE':
      return { kind: 'date' };
    case 'TIME':
      return { kind: 'time', precision: Math.min(p(0), 6) };
    case 'TIMESTAMP':
    case 'TIMESTAMP WITHOUT TIME ZONE':
    case 'DATETIME':
      return { kind: 'timestamp', precision: Math.min(p(6), 6) };
    case 'TIMESTAMP_LTZ':
    case 'TIMESTAMP WITH LOCAL TIME ZONE':
    case 'TIMESTAMP WITH TIME ZONE':
    case 'TIMESTAMPTZ':
      return { kind: 'timestamptz', precision: Math.min(p(6), 6) };
    default:
      return `"${text}" is not a type this engine knows`;
  }
}

export type TypeFamily =
  'boolean' | 'integer' | 'decimal' | 'approx' | 'string' | 'binary' | 'date' | 'time' | 'timestamp' | 'timestamptz';

export function familyOf(type: DataType): TypeFamily {
  switch (type.kind) {
    case 'boolean':
      return 'boolean';
    case 'int8':
    case 'int16':
    case 'int32':
    case 'int64':
    case 'uint8':
    case 'uint16':
    case 'uint32':
    case 'uint64':
    case 'year':
      return 'integer';
    case 'decimal':
      return 'decimal';
    case 'float':
    case 'double':
      return 'approx';
    case 'char':
    case 'varchar':
    case 'string':
    case 'json':
    case 'enum':
    case 'set':
    case 'bit':
      return 'string';
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return 'binary';
    case 'date':
      return 'date';
    case 'time':
      return 'time';
    case 'timestamp':
      return 'timestamp';
    case 'timestamptz':
      return 'timestamptz';
  }
}

export const isNumericFamily = (f: TypeFamily): boolean => f === 'integer' || f === 'decimal' || f === 'approx';

/** Integers whose values are JavaScript numbers (data-type.ts); int64 and uint64 are bigints. */
export function isBigIntType(type: DataType): boolean {
  return type.kind === 'int64' || type.kind === 'uint64';
}

/** Range of an integer type, for overflow checks. */
export function integerRange(type: DataType): readonly [bigint, bigint] {
  switch (type.kind) {
    case 'int8':
      return [-128n, 127n];
    case 'int16':
      return [-32768n, 32767n];
    case 'uint8':
      return [0n, 255n];
    case 'uint16':
      return [0n, 65535n];
    case 'uint32':
      return [0n, 4294967295n];
    case 'uint64':
      return [0n, 18446744073709551615n];
    case 'int64':
      return [-9223372036854775808n, 9223372036854775807n];
    case 'year':
      return [0n, 9999n];
    default:
      return [-2147483648n, 2147483647n];
  }
}

/** Digits an integer type needs as a decimal. */
export function integerDigits(type: DataType): number {
  switch (type.kind) {
    case 'int8':
    case 'uint8':
      return 3;
    case 'int16':
    case 'uint16':
      return 5;
    case 'int64':
      return 19;
    case 'uint64':
      return 20;
    case 'year':
      return 4;
    default:
      return 10;
  }
}

/** Rank of integer types for the wider-of-two rule (INT + BIGINT → BIGINT). */
export function widerInteger(a: DataType, b: DataType): DataType {
  const rank = (t: DataType) => integerDigits(t) + (t.kind.startsWith('u') ? 0.5 : 0);
  if (a.kind === 'uint64' || b.kind === 'uint64') return { kind: 'decimal', precision: 20, scale: 0 };
  const wide = rank(a) >= rank(b) ? a : b;
  // A signed and an unsigned of the same width: the next signed width holds both.
  if ((a.kind.startsWith('u') || b.kind.startsWith('u')) && a.kind !== b.kind) {
    const digits = Math.max(integerDigits(a), integerDigits(b));
    return digits <= 5 ? { kind: 'int32' } : { kind: 'int64' };
  }
  return wide.kind === 'year' ? { kind: 'int32' } : wide;
}
