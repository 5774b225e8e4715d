import type { DataType } from '../../core/index.js';
import { DdlSyntaxError, lexDdl, type DdlLexOptions, type DdlToken } from './ddl/ddl-lexer.js';

/**
 * A column's DEFAULT as the canonical literal of `Column.defaultValue` (src/core/table-schema.ts): the text of
 * the value the server stores for it, in the canonical form of the column's type (docs/01-events.md, "Values").
 * Two inputs, one answer: information_schema.COLUMNS.COLUMN_DEFAULT ({@link columnDefaultFromCatalog}) and the
 * DEFAULT clause of a followed DDL statement ({@link columnDefaultFromDdl}) give the same string for the same
 * column, because both are reduced to one literal and converted by one function, as the server converts it
 * (decimals rounded half away from zero to the scale, fractions of seconds truncated, dates completed).
 *
 * Undefined — no default to backfill — for NULL, for an expression (CURRENT_TIMESTAMP, NOW(), uuid(), (1+2)),
 * for a value the server would reject or store as a zero date, and for types whose literal would be ambiguous
 * or is not text: timestamptz (a TIMESTAMP literal is read in the time zone of the session that ran the DDL),
 * binary, varbinary, bytes (BLOB, geometry) and json.
 */
export type ColumnDefaultFlavor = 'mariadb' | 'mysql';

/** A default reduced to one literal; `number` keeps the digits as written (`-1.50`, `1e2`). */
type Literal =
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'number'; readonly text: string }
  | { readonly kind: 'bits'; readonly value: bigint; readonly bytes: Uint8Array }
  | { readonly kind: 'boolean'; readonly value: boolean };

/**
 * From information_schema.COLUMNS. MariaDB 10.2.7+ quotes string literals (`'it''s'`, backslash escapes),
 * writes numbers bare, bits as `b'101'`, NULL as the text `NULL` (SQL NULL for a NOT NULL column without
 * default) and expressions as their text (`current_timestamp()`, `(1 + 2)`). MySQL writes the value unquoted
 * and marks expressions with `DEFAULT_GENERATED` in EXTRA: pass `extra` for it.
 */
export function columnDefaultFromCatalog(
  columnDefault: string | null,
  type: DataType,
  flavor: ColumnDefaultFlavor = 'mariadb',
  extra = '',
): string | undefined {
  if (columnDefault === null) return undefined;
  let literal: Literal | undefined;
  if (flavor === 'mysql') {
    if (/DEFAULT_GENERATED/i.test(extra) || /^current_timestamp\b/i.test(columnDefault)) return undefined;
    literal = /^b'[01]*'$/.test(columnDefault) ? parseLiteral(columnDefault) : { kind: 'string', text: columnDefault };
  } else {
    literal = parseLiteral(columnDefault);
  }
  return literal === undefined ? undefined : canonicalDefault(literal, type);
}

/**
 * From the DEFAULT clause of a DDL statement, as written (`DdlColumnDefinition.defaultSql`): numbers with
 * signs, strings in '…' or "…" with escapes, adjacent strings, a character set introducer (`_utf8mb4'x'`,
 * `N'x'`), `b'101'`, `0b101`, `x'41'`, `0x41`, TRUE, FALSE, DATE/TIME/TIMESTAMP '…', one literal in
 * parentheses. NULL and anything else (an expression) give undefined. `lexOptions`: those the statement was
 * parsed with (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES`).
 */
export function columnDefaultFromDdl(
  defaultSql: string | undefined,
  type: DataType,
  lexOptions?: DdlLexOptions,
): string | undefined {
  if (defaultSql === undefined) return undefined;
  const literal = parseLiteral(defaultSql, lexOptions);
  return literal === undefined ? undefined : canonicalDefault(literal, type);
}

// ---------------------------------------------------------------------------------------------------------
// Reading the literal

/** One literal, or undefined for NULL, an expression or anything not understood. */
function parseLiteral(sql: string, options?: DdlLexOptions): Literal | undefined {
  let tokens: DdlToken[];
  try {
    tokens = lexDdl(sql, options).filter((t) => t.kind !== 'eof');
  } catch (error) {
    if (error instanceof DdlSyntaxError) return undefined;
    throw error;
  }
  while (isOp(tokens[0], '(') && isOp(tokens.at(-1), ')')) tokens = tokens.slice(1, -1);
  const collate = tokens.at(-2);
  if (collate?.kind === 'word' && collate.upper === 'COLLATE') tokens = tokens.slice(0, -2);

  let negative = false;
  while (isOp(tokens[0], '-') || isOp(tokens[0], '+')) {
    if (isOp(tokens[0], '-')) negative = !negative;
    tokens = tokens.slice(1);
  }
  const [first, ...rest] = tokens;
  if (first?.kind === 'number' && rest.length === 0) {
    return { kind: 'number', text: (negative ? '-' : '') + first.text };
  }
  if (first === undefined || negative) return undefined;
  if (first.kind === 'word' && rest.length === 0 && (first.upper === 'TRUE' || first.upper === 'FALSE')) {
    return { kind: 'boolean', value: first.upper === 'TRUE' };
  }
  if ((first.kind === 'bits' || first.kind === 'hex') && rest.length === 0) return bitsLiteral(first.kind, first.text);
  // DATE '…', TIME '…', TIMESTAMP '…', and `_cs '…'` with a space (the lexer joins it only when adjacent).
  const prefixed =
    first.kind === 'word' && (['DATE', 'TIME', 'TIMESTAMP'].includes(first.upper) || /^_/.test(first.text));
  const strings = prefixed ? rest : tokens;
  if (strings.length === 0 || !strings.every((t) => t.kind === 'string')) return undefined;
  return { kind: 'string', text: strings.map((t) => (t.kind === 'string' ? t.value : '')).join('') };
}

function isOp(token: DdlToken | undefined, text: string): boolean {
  return token?.kind === 'op' && token.text === text;
}

/** `b'101'`, `0b101`, `x'41'`, `0x41`: the value and its bytes. */
function bitsLiteral(kind: 'bits' | 'hex', text: string): Literal {
  const digits = text.replace(/^(?:0[bx]|[bx]')/i, '').replace(/'$/, '');
  if (kind === 'bits') {
    const value = digits === '' ? 0n : BigInt(`0b${digits}`);
    return { kind: 'bits', value, bytes: bigintBytes(value, Math.ceil(digits.length / 8)) };
  }
  const even = digits.length % 2 === 1 ? `0${digits}` : digits;
  return {
    kind: 'bits',
    value: even === '' ? 0n : BigInt(`0x${even}`),
    bytes: new Uint8Array(Buffer.from(even, 'hex')),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Converting it to the column's type

function canonicalDefault(literal: Literal, type: DataType): string | undefined {
  switch (type.kind) {
    case 'int8':
      return integerText(literal, -(2n ** 7n), 2n ** 7n - 1n);
    case 'int16':
      return integerText(literal, -(2n ** 15n), 2n ** 15n - 1n);
    case 'int32':
      return integerText(literal, -(2n ** 31n), 2n ** 31n - 1n);
    case 'int64':
      return integerText(literal, -(2n ** 63n), 2n ** 63n - 1n);
    case 'uint8':
      return integerText(literal, 0n, 2n ** 8n - 1n);
    case 'uint16':
      return integerText(literal, 0n, 2n ** 16n - 1n);
    case 'uint32':
      return integerText(literal, 0n, 2n ** 32n - 1n);
    case 'uint64':
      return integerText(literal, 0n, 2n ** 64n - 1n);
    case 'boolean': {
      const value = integerText(literal, -(2n ** 63n), 2n ** 64n - 1n);
      return value === undefined ? undefined : String(value !== '0');
    }
    case 'decimal':
      return decimalText(literal, type.precision, type.scale);
    case 'float':
    case 'double': {
      const number = numberOf(literal);
      if (number === undefined || !Number.isFinite(number)) return undefined;
      return String(type.kind === 'float' ? Math.fround(number) : number);
    }
    case 'char':
    case 'varchar':
    case 'string': {
      const value = textOf(literal);
      return type.kind === 'char' ? value?.replace(/ +$/, '') : value;
    }
    case 'enum': {
      const value = textOf(literal);
      return value === undefined ? undefined : labelOf(type.values, value);
    }
    case 'set':
      return setText(literal, type.values);
    case 'bit': {
      const value = literal.kind === 'bits' ? literal.value : bitsValue(literal);
      if (value === undefined || value < 0n || value >= 2n ** BigInt(type.length)) return undefined;
      return value.toString(2).padStart(type.length, '0');
    }
    case 'year':
      return yearText(literal);
    case 'date': {
      const date = dateTimeOf(literal);
      return date?.date;
    }
    case 'timestamp': {
      const value = dateTimeOf(literal);
      if (value === undefined) return undefined;
      return `${value.date} ${value.time}${fraction(value.fraction, type.precision)}`;
    }
    case 'time':
      return timeText(literal, type.precision);
    case 'timestamptz':
    case 'binary':
    case 'varbinary':
    case 'bytes':
    case 'json':
      return undefined;
  }
}

/** A number's exact parts: sign, digits and the power of ten they are scaled by (`-1.5e2` → -, 15, 1). */
interface Exact {
  readonly negative: boolean;
  readonly digits: bigint;
  readonly exponent: number;
}

/** The exact value of a number's text (`12`, `-1.50`, `.5`, `1e2`); undefined for anything else. */
function exactOf(text: string): Exact | undefined {
  const match = /^([-+]?)(\d*)(?:\.(\d*))?(?:e([-+]?\d+))?$/i.exec(text.trim());
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) return undefined;
  const whole = match[2]!;
  const part = match[3] ?? '';
  const exponent = Number(match[4] ?? '0') - part.length;
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 400) return undefined;
  return { negative: match[1] === '-', digits: BigInt(`${whole}${part}` || '0'), exponent };
}

/** The exact value of a literal as a number: numbers, numeric strings (MySQL converts them), bits, booleans. */
function exactOfLiteral(literal: Literal): Exact | undefined {
  switch (literal.kind) {
    case 'number':
    case 'string':
      return exactOf(literal.text);
    case 'bits':
      return { negative: false, digits: literal.value, exponent: 0 };
    case 'boolean':
      return { negative: false, digits: literal.value ? 1n : 0n, exponent: 0 };
  }
}

/** `value` scaled to `scale` decimal places, rounded half away from zero, as the server stores a decimal. */
function scaled(value: Exact, scale: number): bigint {
  const shift = value.exponent + scale;
  let units: bigint;
  if (shift >= 0) {
    units = value.digits * 10n ** BigInt(shift);
  } else {
    const divisor = 10n ** BigInt(-shift);
    units = value.digits / divisor;
    if ((value.digits % divisor) * 2n >= divisor) units += 1n;
  }
  return value.negative ? -units : units;
}

function integerText(literal: Literal, min: bigint, max: bigint): string | undefined {
  const value = exactOfLiteral(literal);
  if (value === undefined) return undefined;
  const integer = scaled(value, 0);
  return integer < min || integer > max ? undefined : String(integer);
}

function decimalText(literal: Literal, precision: number, scale: number): string | undefined {
  const value = exactOfLiteral(literal);
  if (value === undefined) return undefined;
  const units = scaled(value, scale);
  const digits = (units < 0n ? -units : units).toString();
  if (digits.length > Math.max(precision, 1)) return undefined;
  const padded = digits.padStart(scale + 1, '0');
  const whole = padded.slice(0, padded.length - scale);
  const text = scale > 0 ? `${whole}.${padded.slice(padded.length - scale)}` : whole;
  return units < 0n ? `-${text}` : text;
}

function numberOf(literal: Literal): number | undefined {
  switch (literal.kind) {
    case 'number':
      return Number(literal.text);
    case 'string':
      return exactOf(literal.text) === undefined ? undefined : Number(literal.text.trim());
    case 'bits':
      return Number(literal.value);
    case 'boolean':
      return literal.value ? 1 : 0;
  }
}

/** A literal as text, as MySQL converts it for a character column. */
function textOf(literal: Literal): string | undefined {
  switch (literal.kind) {
    case 'string':
      return literal.text;
    case 'number':
      // A number with an exponent is a double: the server writes its shortest form (1e2 → '100').
      return /e/i.test(literal.text) ? String(Number(literal.text)) : literal.text.replace(/^\+/, '');
    case 'bits':
      return new TextDecoder('utf-8', { fatal: false }).decode(literal.bytes);
    case 'boolean':
      return literal.value ? '1' : '0';
  }
}

/** An ENUM/SET label as the column defines it: labels compare case-insensitively (the usual collations). */
function labelOf(values: readonly string[], label: string): string | undefined {
  const exact = values.find((v) => v === label);
  if (exact !== undefined) return exact;
  const lower = label.toLowerCase();
  return values.find((v) => v.toLowerCase() === lower);
}

/** The labels of a SET default in the column's order, each once: `'b,a'` → `a,b`. */
function setText(literal: Literal, values: readonly string[]): string | undefined {
  if (literal.kind !== 'string') return undefined;
  if (literal.text === '') return '';
  const chosen = new Set<string>();
  for (const part of literal.text.split(',')) {
    const label = labelOf(values, part);
    if (label === undefined) return undefined;
    chosen.add(label);
  }
  return values.filter((v) => chosen.has(v)).join(',');
}

/** The value of a BIT default: a number, or a string's bytes (big-endian). */
function bitsValue(literal: Literal): bigint | undefined {
  if (literal.kind === 'string') {
    let value = 0n;
    for (const byte of Buffer.from(literal.text, 'utf8')) value = (value << 8n) | BigInt(byte);
    return value;
  }
  if (literal.kind === 'bits') return literal.value;
  const text = integerText(literal, 0n, 2n ** 64n - 1n);
  return text === undefined ? undefined : BigInt(text);
}

/** YEAR: 1–69 → 2001–2069, 70–99 → 1970–1999; a number 0 is 0000, a string '0' or '00' is 2000. */
function yearText(literal: Literal): string | undefined {
  const text = integerText(literal, 0n, 2155n);
  if (text === undefined) return undefined;
  let year = Number(text);
  if (year === 0) return literal.kind === 'string' ? '2000' : '0';
  if (year < 70) year += 2000;
  else if (year < 100) year += 1900;
  return year >= 1901 && year <= 2155 ? String(year) : undefined;
}

interface DateTimeParts {
  readonly date: string;
  readonly time: string;
  /** Fraction digits as written (before truncation to the column's precision). */
  readonly fraction: string;
}

/**
 * A DATE or DATETIME literal (a DATE column drops the time part, as the server does, with a note): `YYYY-MM-DD[( |T)HH:MM:SS[.f]]` with any punctuation as delimiter and one- or
 * two-digit parts, two-digit years (70–99 → 19xx, else 20xx), or the digits alone (`20240102`,
 * `20240102030405`, as a number too). Zero and invalid dates give undefined (they arrive as NULL).
 */
function dateTimeOf(literal: Literal): DateTimeParts | undefined {
  if (literal.kind !== 'string' && literal.kind !== 'number') return undefined;
  const text = literal.text.trim();
  let parts: string[];
  let fraction = '';
  const compact = /^(\d{6}|\d{8}|\d{12}|\d{14})(?:\.(\d*))?$/.exec(text);
  if (compact) {
    const digits = compact[1]!;
    const yearDigits = digits.length === 8 || digits.length === 14 ? 4 : 2;
    parts = [digits.slice(0, yearDigits)];
    for (let i = yearDigits; i < digits.length; i += 2) parts.push(digits.slice(i, i + 2));
    fraction = compact[2] ?? '';
  } else {
    const match =
      /^(\d{1,4})[^\d\s](\d{1,2})[^\d\s](\d{1,2})(?:(?:\s+|T)(\d{1,2})[^\d\s](\d{1,2})[^\d\s](\d{1,2})(?:\.(\d*))?)?$/.exec(
        text,
      );
    if (!match) return undefined;
    parts = match.slice(1, 7).filter((p): p is string => p !== undefined);
    fraction = match[7] ?? '';
  }
  const [yearText, month, day, hour = '0', minute = '0', second = '0'] = parts;
  let year = Number(yearText);
  if (yearText!.length <= 2) year += year < 70 ? 2000 : 1900;
  const [m, d, h, mi, s] = [month, day, hour, minute, second].map(Number) as [number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, m, 0)).getUTCDate();
  if (year < 1 || m < 1 || m > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59) return undefined;
  return {
    date: `${pad(year, 4)}-${pad(m, 2)}-${pad(d, 2)}`,
    time: `${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}`,
    fraction,
  };
}

/**
 * A TIME literal: `[-][D ]H:MM[:SS[.f]]`, or digits `[-]HHMMSS[.f]` (`10203` = 01:02:03, `1020` = 00:10:20),
 * as a number too. Within −838:59:59 … 838:59:59.
 */
function timeText(literal: Literal, precision: number): string | undefined {
  if (literal.kind !== 'string' && literal.kind !== 'number') return undefined;
  const text = literal.text.trim();
  let negative = false;
  let hours: number;
  let minutes: number;
  let seconds: number;
  let digits = '';
  const spelled = /^(-?)(?:(\d+)\s+)?(\d+):(\d{1,2})(?::(\d{1,2}))?(?:\.(\d*))?$/.exec(text);
  const compact = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text);
  if (spelled) {
    negative = spelled[1] === '-';
    hours = Number(spelled[2] ?? '0') * 24 + Number(spelled[3]);
    minutes = Number(spelled[4]);
    seconds = Number(spelled[5] ?? '0');
    digits = spelled[5] === undefined ? '' : (spelled[6] ?? '');
  } else if (compact) {
    negative = compact[1] === '-';
    const whole = compact[2]!.padStart(6, '0');
    hours = Number(whole.slice(0, -4));
    minutes = Number(whole.slice(-4, -2));
    seconds = Number(whole.slice(-2));
    digits = compact[3] ?? '';
  } else {
    return undefined;
  }
  if (minutes > 59 || seconds > 59 || hours > 838) return undefined;
  const frac = fraction(digits, precision);
  if (hours === 838 && minutes === 59 && seconds === 59 && /[1-9]/.test(frac)) return undefined;
  const zero = hours === 0 && minutes === 0 && seconds === 0 && !/[1-9]/.test(frac);
  return `${negative && !zero ? '-' : ''}${pad(hours, 2)}:${pad(minutes, 2)}:${pad(seconds, 2)}${frac}`;
}

/** Fraction digits truncated (as the server does by default) and padded to `precision`: `.500` for p = 3. */
function fraction(digits: string, precision: number): string {
  return precision > 0 ? `.${digits.slice(0, precision).padEnd(precision, '0')}` : '';
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** `value` as `length` big-endian bytes (at least its own). */
function bigintBytes(value: bigint, length: number): Uint8Array {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const bytes = Buffer.from(hex === '00' && length === 0 ? '' : hex, 'hex');
  const out = new Uint8Array(Math.max(length, bytes.length));
  out.set(bytes, out.length - bytes.length);
  return out;
}
