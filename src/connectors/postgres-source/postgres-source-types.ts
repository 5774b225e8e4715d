import { TributaryError, type DataType, type Value } from '../../core/index.js';

/** One row of `pg_type` as {@link TYPE_CATALOG_SQL} reads it. */
export interface PgTypeRow {
  readonly oid: number;
  readonly name: string;
  readonly namespace: string;
  /** b base, d domain, e enum, r range, m multirange, c composite, p pseudo. */
  readonly typtype: string;
  readonly category: string;
  readonly elem: number;
  readonly baseType: number;
  readonly baseTypmod: number;
  readonly enumLabels: readonly string[] | null;
}

/** The catalog rows of the given type OIDs (and, by the caller's loop, of their element and base types). */
export const TYPE_CATALOG_SQL = `SELECT t.oid::int8 AS oid, t.typname AS name, n.nspname AS namespace, t.typtype AS typtype,
  t.typcategory AS category, t.typelem::int8 AS elem, t.typbasetype::int8 AS base_type, t.typtypmod AS base_typmod,
  (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) AS enum_labels
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = ANY($1::oid[])`;

/** The session settings under which every value's text is read, on snapshot and replication connections alike. */
export const TEXT_SETTINGS: Readonly<Record<string, string>> = {
  DateStyle: 'ISO, YMD',
  TimeZone: 'UTC',
  IntervalStyle: 'iso_8601',
  extra_float_digits: '3',
  bytea_output: 'hex',
  lc_monetary: 'C',
};

/** The `options` startup parameter that applies {@link TEXT_SETTINGS} to a connection (walsender included). */
export function textSettingsOption(): string {
  return Object.entries(TEXT_SETTINGS)
    .map(([key, value]) => `-c ${key}=${value.replace(/ /g, '\\ ')}`)
    .join(' ');
}

/** A column type as this source reads it: the canonical type and the one function from the server's text. */
export interface PgColumnType {
  readonly type: DataType;
  /** The server's spelling (`numeric(10,2)`, `public.mood`, `integer[]`). */
  readonly sourceType: string;
  /** The server's text of a value → the canonical value (docs/01-events.md). Throws a coded error when it cannot. */
  readonly convert: (text: string) => Value;
}

/** Why a value could not be converted; the source adds the table and the column. */
export class PgValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PgValueError';
  }
}

type TypeLookup = (oid: number) => PgTypeRow | undefined;

/**
 * Maps a PostgreSQL column type (`atttypid`, `atttypmod`) to its canonical type and text converter, or returns
 * why it cannot (an unsupported type). `lookup` resolves enums, domains and arrays from the catalog.
 *
 * The snapshot (`SELECT` with every value as text) and the replication stream (pgoutput sends each value's text
 * output) both use the converter returned here, under the same session settings ({@link TEXT_SETTINGS}), so
 * the two give identical canonical values by construction.
 */
export function pgColumnType(oid: number, typmod: number, lookup: TypeLookup): PgColumnType | string {
  const row = lookup(oid);
  if (!row) return `type oid ${oid} is not in the catalog`;
  if (row.typtype === 'd') {
    const base = pgColumnType(row.baseType, row.baseTypmod, lookup);
    if (typeof base === 'string') return base;
    return { ...base, sourceType: qualified(row) };
  }
  if (row.typtype === 'e') {
    const values = row.enumLabels ?? [];
    return { type: { kind: 'enum', values }, sourceType: qualified(row), convert: identity };
  }
  if (row.typtype === 'r' || row.typtype === 'm') {
    return { type: { kind: 'string' }, sourceType: qualified(row), convert: identity };
  }
  if (row.category === 'A' && row.elem !== 0) {
    const element = pgColumnType(row.elem, typmod, lookup);
    if (typeof element === 'string') return element;
    const elementType = element.type;
    return {
      type: { kind: 'json' },
      sourceType: `${element.sourceType}[]`,
      // JSON has no NaN or Infinity: a numeric element holding one is written as a string, as floats' are.
      convert: (text) =>
        arrayToJson(text, (item) =>
          elementType.kind === 'decimal' && /^-?(NaN|Infinity)$/.test(item)
            ? JSON.stringify(item)
            : jsonToken(element.convert(item), elementType),
        ),
    };
  }
  if (row.namespace !== 'pg_catalog')
    return `type ${qualified(row)} (${describeTyptype(row.typtype)}) is not supported`;
  return builtinType(row.name, typmod) ?? `type ${row.name} is not supported`;
}

function builtinType(name: string, typmod: number): PgColumnType | undefined {
  const t = (type: DataType, convert: (text: string) => Value, sourceType: string = name): PgColumnType => ({
    type,
    sourceType,
    convert,
  });
  switch (name) {
    case 'bool':
      return t({ kind: 'boolean' }, (v) => v === 't' || v === 'true', 'boolean');
    case 'int2':
      return t({ kind: 'int16' }, Number, 'smallint');
    case 'int4':
      return t({ kind: 'int32' }, Number, 'integer');
    case 'oid':
      return t({ kind: 'uint32' }, Number);
    case 'int8':
      return t({ kind: 'int64' }, (v) => BigInt(v), 'bigint');
    case 'float4':
      return t({ kind: 'float' }, Number, 'real');
    case 'float8':
      return t({ kind: 'double' }, Number, 'double precision');
    case 'numeric': {
      if (typmod < 4) return t({ kind: 'decimal', precision: 0, scale: 0 }, numeric, 'numeric');
      const precision = ((typmod - 4) >> 16) & 0xffff;
      const scale = ((((typmod - 4) & 0x7ff) ^ 1024) - 1024) | 0;
      // A negative scale (PostgreSQL 15) rounds to tens, hundreds …: integers of precision - scale digits.
      return scale < 0
        ? t({ kind: 'decimal', precision: precision - scale, scale: 0 }, numeric, `numeric(${precision},${scale})`)
        : t({ kind: 'decimal', precision, scale }, numeric, `numeric(${precision},${scale})`);
    }
    case 'money':
      return t({ kind: 'decimal', precision: 19, scale: 2 }, money);
    case 'text':
    case 'name':
    case 'char':
    case 'xml':
    case 'inet':
    case 'cidr':
    case 'macaddr':
    case 'macaddr8':
    case 'varbit':
    case 'timetz':
    case 'interval':
      return t({ kind: 'string' }, identity, name === 'varbit' ? 'bit varying' : name);
    case 'varchar':
      return typmod >= 4
        ? t({ kind: 'varchar', length: typmod - 4 }, identity, `varchar(${typmod - 4})`)
        : t({ kind: 'string' }, identity, 'varchar');
    case 'bpchar':
      return typmod >= 4
        ? t({ kind: 'char', length: typmod - 4 }, identity, `char(${typmod - 4})`)
        : t({ kind: 'string' }, identity, 'bpchar');
    case 'uuid':
      return t({ kind: 'varchar', length: 36 }, identity);
    case 'json':
    case 'jsonb':
      return t({ kind: 'json' }, identity);
    case 'bytea':
      return t({ kind: 'bytes' }, bytea);
    case 'bit':
      return t({ kind: 'bit', length: typmod >= 1 ? typmod : 1 }, identity, `bit(${typmod >= 1 ? typmod : 1})`);
    case 'date':
      return t({ kind: 'date' }, date);
    case 'time': {
      const p = fractionDigits(typmod);
      return t({ kind: 'time', precision: p }, (v) => withFraction(v, p), `time(${p})`);
    }
    case 'timestamp': {
      const p = fractionDigits(typmod);
      return t({ kind: 'timestamp', precision: p }, (v) => timestamp(v, p, false), `timestamp(${p})`);
    }
    case 'timestamptz': {
      const p = fractionDigits(typmod);
      return t({ kind: 'timestamptz', precision: p }, (v) => timestamp(v, p, true), `timestamptz(${p})`);
    }
    default:
      return undefined;
  }
}

function identity(text: string): string {
  return text;
}

function qualified(row: PgTypeRow): string {
  return row.namespace === 'pg_catalog' ? row.name : `${row.namespace}.${row.name}`;
}

function describeTyptype(typtype: string): string {
  return typtype === 'c' ? 'a composite type' : typtype === 'p' ? 'a pseudo-type' : 'an extension type';
}

const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;

function numeric(text: string): string {
  if (DECIMAL_TEXT.test(text)) return text;
  throw new PgValueError(
    `numeric value ${text} has no canonical decimal (NaN and ±Infinity cannot be carried by decimal text)`,
  );
}

/** money under lc_monetary=C: `$1,234.56`, `-$1,234.56`. */
function money(text: string): string {
  const plain = text.replace(/[$,]/g, '');
  if (DECIMAL_TEXT.test(plain)) return plain;
  throw new PgValueError(`money value ${text} is not in the C locale's format`);
}

function bytea(text: string): Uint8Array {
  if (!text.startsWith('\\x')) throw new PgValueError('bytea value is not in hex output format');
  return Buffer.from(text.slice(2), 'hex');
}

const DATE_TEXT = /^\d{4}-\d{2}-\d{2}$/;

function date(text: string): string {
  if (DATE_TEXT.test(text)) return text;
  throw new PgValueError(`date ${text} has no canonical date (years 1..9999; no infinity, no BC)`);
}

/** Fractional-second digits of a time/timestamp typmod (-1: the default, 6). */
function fractionDigits(typmod: number): number {
  return typmod >= 0 && typmod <= 6 ? typmod : 6;
}

/** `HH:MM:SS[.f…]` (or a date-time) with exactly `digits` fraction digits, as canonical values have them. */
function withFraction(text: string, digits: number): string {
  const dot = text.indexOf('.');
  const whole = dot < 0 ? text : text.slice(0, dot);
  if (digits === 0) return whole;
  const fraction = dot < 0 ? '' : text.slice(dot + 1);
  return `${whole}.${fraction.padEnd(digits, '0').slice(0, digits)}`;
}

const TIMESTAMP_TEXT = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)(\+00(?::00)?)?$/;

function timestamp(text: string, digits: number, utc: boolean): string {
  const match = TIMESTAMP_TEXT.exec(text);
  if (!match || (utc && match[2] === undefined) || (!utc && match[2] !== undefined)) {
    throw new PgValueError(
      `timestamp ${text} has no canonical timestamp (years 1..9999; no infinity, no BC${utc ? '; read in UTC' : ''})`,
    );
  }
  const value = withFraction(match[1]!, digits);
  return utc ? `${value}Z` : value;
}

/**
 * PostgreSQL's array text (`{1,2}`, `{{a,"b c"},{NULL,"d\"e"}}`, `[0:1]={1,2}`) as JSON text: nested arrays of
 * the elements' canonical values (numbers stay exact: 64-bit integers and decimals are written as digits).
 */
export function arrayToJson(text: string, element: (item: string) => string): string {
  let i = text.startsWith('[') ? text.indexOf('=') + 1 : 0;
  let out = '';
  const fail = (): never => {
    throw new PgValueError(`array value ${text.slice(0, 80)} is not PostgreSQL array text`);
  };
  const parse = (): void => {
    if (text[i] !== '{') fail();
    i++;
    out += '[';
    let first = true;
    while (i < text.length && text[i] !== '}') {
      if (!first) {
        if (text[i] !== ',') fail();
        i++;
      }
      first = false;
      if (text[i] === '{') {
        parse();
        continue;
      }
      if (text[i] === '"') {
        let item = '';
        i++;
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\') i++;
          item += text[i] ?? '';
          i++;
        }
        i++;
        out += element(item);
      } else {
        const start = i;
        while (i < text.length && text[i] !== ',' && text[i] !== '}') i++;
        const item = text.slice(start, i).trim();
        out += item === 'NULL' ? 'null' : element(item);
      }
      out += ',';
    }
    if (text[i] !== '}') fail();
    i++;
    if (out.endsWith(',')) out = out.slice(0, -1);
    out += ']';
    out += ',';
  };
  parse();
  return out.slice(0, -1);
}

/** One canonical value as a JSON token (numbers of every width as their digits, bytes as hex text). */
function jsonToken(value: Value, type: DataType): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'number':
      return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
    case 'string':
      if (type.kind === 'decimal') return value;
      if (type.kind === 'json') return value;
      return JSON.stringify(value);
    default:
      return JSON.stringify(Buffer.from(value).toString('hex'));
  }
}

/** Turns a {@link PgValueError} into the coded error naming table and column. */
export function valueError(error: unknown, table: string, column: string): unknown {
  if (!(error instanceof PgValueError)) return error;
  return new TributaryError('SOURCE_UNSUPPORTED_TYPE', `${table}.${column}: ${error.message}`, {
    hint: `change the value at the source, or leave ${table} out with source.tables.exclude`,
  });
}
