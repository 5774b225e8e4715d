import type { DataType } from '../core/data-type.js';

/**
 * MySQL's column types → canonical types: the one mapping that the MySQL source (from information_schema) and
 * the canal-json decoder (from Canal's `mysqlType` spelling) share, documented in docs/type-mapping.md. Pure, so
 * that formats use it without importing connectors. Integers keep their width; an UNSIGNED type gets the smallest
 * canonical type holding all its values (`MEDIUMINT UNSIGNED`, at most 16777215, is `int32`).
 */
export interface MysqlTypeFacts {
  /** The type name, lower case: `int`, `varchar`, `timestamp`. */
  readonly base: string;
  readonly unsigned: boolean;
  /** Characters of char/varchar, bytes of binary/varbinary, bits of bit. */
  readonly length?: number;
  /** Digits and scale of decimal. */
  readonly precision?: number;
  readonly scale?: number;
  /** Fractional-second digits of time, datetime, timestamp. */
  readonly fsp?: number;
  /** The members of enum and set. */
  readonly values?: readonly string[];
}

/** Where the sources differ in what they know. */
export interface MysqlTypeReading {
  /** `timestamp` is an instant (`timestamptz`) when the reader knows the server's zone, else a wall clock. */
  readonly timestamp: 'timestamptz' | 'timestamp';
  /** `bit(1)` as a bit string, or as a boolean (Canal writes it as one). */
  readonly bit1: 'bit' | 'boolean';
}

/** The canonical type, or undefined for a type this mapping does not know. */
export function canonicalOfMysql(facts: MysqlTypeFacts, reading: MysqlTypeReading): DataType | undefined {
  const { base, unsigned } = facts;
  switch (base) {
    case 'tinyint':
      return { kind: unsigned ? 'uint8' : 'int8' };
    case 'smallint':
      return { kind: unsigned ? 'uint16' : 'int16' };
    case 'mediumint':
      return { kind: 'int32' };
    case 'int':
    case 'integer':
      return { kind: unsigned ? 'uint32' : 'int32' };
    case 'bigint':
      return { kind: unsigned ? 'uint64' : 'int64' };
    case 'bool':
    case 'boolean':
      return { kind: 'boolean' };
    case 'decimal':
    case 'numeric':
    case 'dec':
      return { kind: 'decimal', precision: facts.precision ?? 10, scale: facts.scale ?? 0 };
    case 'float':
      return { kind: 'float' };
    case 'double':
    case 'real':
      return { kind: 'double' };
    case 'char':
      return { kind: 'char', length: facts.length ?? 1 };
    case 'varchar':
      return { kind: 'varchar', length: facts.length ?? 255 };
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
      return { kind: 'string' };
    case 'binary':
      return { kind: 'binary', length: facts.length ?? 1 };
    case 'varbinary':
      return { kind: 'varbinary', length: facts.length ?? 255 };
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      return { kind: 'bytes' };
    case 'bit': {
      const length = facts.length ?? 1;
      return length === 1 && reading.bit1 === 'boolean' ? { kind: 'boolean' } : { kind: 'bit', length };
    }
    case 'date':
      return { kind: 'date' };
    case 'year':
      return { kind: 'year' };
    case 'time':
      return { kind: 'time', precision: facts.fsp ?? 0 };
    case 'datetime':
      return { kind: 'timestamp', precision: facts.fsp ?? 0 };
    case 'timestamp':
      return { kind: reading.timestamp, precision: facts.fsp ?? 0 };
    case 'json':
      return { kind: 'json' };
    case 'enum':
    case 'set':
      return { kind: base, values: [...(facts.values ?? [])] };
    default:
      return undefined;
  }
}
