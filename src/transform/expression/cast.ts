import { formatDataType, type DataType, type Value } from '../../core/data-type.js';
import { formatDecimal, parseDecimal, rescale, fitsPrecision, type Decimal } from './decimal.js';
import { EvalProblem } from './eval-context.js';
import { familyOf, integerRange, isBigIntType } from './sql-type.js';
import {
  floorDiv,
  formatDate,
  formatTime,
  formatTimestamp,
  instantToLocal,
  localToInstant,
  MICROS_PER_DAY,
  parseDate,
  parseTime,
  parseTimestamp,
  truncateMicros,
} from './temporal.js';

export type Converter = (value: Value) => Value;

const utf8 = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();

/**
 * The conversion of a non-NULL value of type `from` into type `to` (CAST), or a reason (string) when SQL has
 * no such cast. The converter throws {@link EvalProblem} for a value that does not convert (`'abc'` to INT,
 * an integer overflow, a decimal wider than its precision) — never a silently altered value. Conversions
 * that involve wall clocks and instants read them in `timeZone` (Flink's `local-time-zone`).
 */
export function castConverter(from: DataType, to: DataType, timeZone: string): Converter | string {
  const source = familyOf(from);
  const sourceName = formatDataType(from);
  const fail = (value: Value, why = ''): never => {
    throw new EvalProblem(
      `cannot cast ${describeValue(value)} (${sourceName}) to ${formatDataType(to)}${why}`,
      'fix the value at the source, or guard the CAST with CASE WHEN … THEN … END',
    );
  };
  switch (to.kind) {
    case 'char':
    case 'varchar':
    case 'string':
    case 'json':
    case 'enum':
    case 'set':
    case 'bit': {
      const text = toText(from, timeZone);
      if (typeof text === 'string') return text;
      const length = to.kind === 'char' || to.kind === 'varchar' ? to.length : undefined;
      if (length === undefined) return text;
      return (value) => {
        const s = text(value) as string;
        if (s.length <= length) return s;
        const points = Array.from(s);
        return points.length <= length ? s : points.slice(0, length).join('');
      };
    }
    case 'boolean':
      if (source === 'boolean') return identity;
      if (source === 'string')
        return (value) => {
          const s = String(value).trim().toLowerCase();
          if (['true', 't', 'yes', 'y', '1', 'on'].includes(s)) return true;
          if (['false', 'f', 'no', 'n', '0', 'off'].includes(s)) return false;
          return fail(value);
        };
      if (source === 'integer' || source === 'approx') return (value) => Number(value) !== 0;
      if (source === 'decimal') return (value) => parseDecimal(String(value))?.unscaled !== 0n;
      return `${sourceName} cannot be cast to BOOLEAN`;
    case 'int8':
    case 'int16':
    case 'int32':
    case 'int64':
    case 'uint8':
    case 'uint16':
    case 'uint32':
    case 'uint64':
    case 'year': {
      const [min, max] = integerRange(to);
      const big = isBigIntType(to);
      const out = (n: bigint, value: Value): Value => {
        if (n < min || n > max) fail(value, ': out of range');
        return big ? n : Number(n);
      };
      if (source === 'integer') {
        if (integerRange(from)[0] >= min && integerRange(from)[1] <= max)
          return big ? (v) => BigInt(v as number) : (v) => Number(v);
        return (value) => out(BigInt(value as number | bigint), value);
      }
      if (source === 'boolean') return (value) => out(value === true ? 1n : 0n, value);
      if (source === 'decimal' || source === 'string')
        return (value) => {
          const text = String(value).trim();
          const decimal = parseDecimal(text);
          if (decimal === undefined || (source === 'string' && !/^[+-]?\d+$/.test(text) && decimal.scale > 0))
            return fail(value);
          return out(rescaleTruncate(decimal), value);
        };
      if (source === 'approx')
        return (value) => {
          const n = value as number;
          if (!Number.isFinite(n)) return fail(value);
          return out(BigInt(Math.trunc(n)), value);
        };
      return `${sourceName} cannot be cast to ${formatDataType(to)}`;
    }
    case 'decimal': {
      const { precision, scale } = to;
      const out = (d: Decimal | undefined, value: Value): Value => {
        if (d === undefined) return fail(value);
        const r = rescale(d, scale);
        if (!fitsPrecision(r, precision)) return fail(value, `: more than ${precision - scale} integer digits`);
        return formatDecimal(r);
      };
      if (source === 'integer' || source === 'decimal' || source === 'string')
        return (value) => out(parseDecimal(String(value)), value);
      if (source === 'approx')
        return (value) => (Number.isFinite(value) ? out(parseDecimal(String(value)), value) : fail(value));
      if (source === 'boolean') return (value) => out({ unscaled: value === true ? 1n : 0n, scale: 0 }, value);
      return `${sourceName} cannot be cast to ${formatDataType(to)}`;
    }
    case 'float':
    case 'double': {
      const round = to.kind === 'float' ? Math.fround : (n: number) => n;
      if (source === 'integer' || source === 'decimal' || source === 'approx') return (value) => round(Number(value));
      if (source === 'boolean') return (value) => (value === true ? 1 : 0);
      if (source === 'string')
        return (value) => {
          const n = Number(String(value).trim());
          return String(value).trim() === '' || Number.isNaN(n) ? fail(value) : round(n);
        };
      return `${sourceName} cannot be cast to ${formatDataType(to)}`;
    }
    case 'binary':
    case 'varbinary':
    case 'bytes':
      if (source === 'binary') return identity;
      if (source === 'string') return (value) => encoder.encode(String(value));
      return `${sourceName} cannot be cast to ${formatDataType(to)}`;
    case 'date':
      if (source === 'date') return identity;
      if (source === 'string')
        return (value) => {
          const days = parseDate(String(value));
          return days === undefined ? fail(value) : formatDate(days);
        };
      if (source === 'timestamp' || source === 'timestamptz') {
        const local = source === 'timestamptz';
        return (value) => {
          const micros = parseTimestamp(String(value))!;
          return formatDate(Number(floorDiv(local ? instantToLocal(micros, timeZone) : micros, MICROS_PER_DAY)));
        };
      }
      return `${sourceName} cannot be cast to DATE`;
    case 'time': {
      const p = to.precision;
      if (source === 'time') return (value) => formatTime(truncateMicros(parseTime(String(value))!, p), p);
      if (source === 'string')
        return (value) => {
          const micros = parseTime(String(value));
          return micros === undefined ? fail(value) : formatTime(truncateMicros(micros, p), p);
        };
      if (source === 'timestamp' || source === 'timestamptz') {
        const local = source === 'timestamptz';
        return (value) => {
          let micros = parseTimestamp(String(value))!;
          if (local) micros = instantToLocal(micros, timeZone);
          return formatTime(truncateMicros(micros - floorDiv(micros, MICROS_PER_DAY) * MICROS_PER_DAY, p), p);
        };
      }
      return `${sourceName} cannot be cast to ${formatDataType(to)}`;
    }
    case 'timestamp':
    case 'timestamptz': {
      const p = to.precision;
      const zoned = to.kind === 'timestamptz';
      const write = (micros: bigint) => formatTimestamp(truncateMicros(micros, p), p, zoned ? 'Z' : '');
      // Every source is first read as a wall clock (`local`) or an instant.
      const read = (value: Value): { micros: bigint; instant: boolean } | undefined => {
        const text = String(value);
        if (source === 'timestamptz') return { micros: parseTimestamp(text)!, instant: true };
        if (source === 'date') {
          const days = parseDate(text);
          return days === undefined ? undefined : { micros: BigInt(days) * MICROS_PER_DAY, instant: false };
        }
        const micros = parseTimestamp(text);
        if (micros === undefined) return undefined;
        // A string with a zone suffix names an instant.
        return { micros, instant: source === 'string' && /(Z|[+-]\d{2}:?\d{2})$/.test(text.trim()) };
      };
      if (!['timestamp', 'timestamptz', 'date', 'string'].includes(source)) {
        return `${sourceName} cannot be cast to ${formatDataType(to)}`;
      }
      return (value) => {
        const r = read(value);
        if (r === undefined) return fail(value);
        if (zoned) return write(r.instant ? r.micros : localToInstant(r.micros, timeZone));
        return write(r.instant ? instantToLocal(r.micros, timeZone) : r.micros);
      };
    }
  }
}

/** Text of a value of `from`, as CAST(… AS STRING) writes it. */
function toText(from: DataType, timeZone: string): Converter | string {
  switch (familyOf(from)) {
    case 'string':
      return identity;
    case 'boolean':
      return (value) => (value === true ? 'TRUE' : 'FALSE');
    case 'integer':
    case 'decimal':
      return (value) => String(value);
    case 'approx':
      return (value) => formatDouble(value as number);
    case 'binary':
      return (value) => utf8.decode(value as Uint8Array);
    case 'date':
    case 'time':
    case 'timestamp':
      return identity;
    case 'timestamptz': {
      const precision = from.kind === 'timestamptz' ? from.precision : 6;
      return (value) => formatTimestamp(instantToLocal(parseTimestamp(String(value))!, timeZone), precision);
    }
  }
}

/** Java's Double.toString spelling of the common cases: `1.0`, `0.5`, `1.0E10`. */
export function formatDouble(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  if (Number.isInteger(n) && Math.abs(n) < 1e7) return `${n}.0`;
  const abs = Math.abs(n);
  if (abs >= 1e-3 && abs < 1e7) return String(n);
  const [mantissa = '', exponent = '0'] = n.toExponential().split('e');
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}

function rescaleTruncate(d: Decimal): bigint {
  if (d.scale <= 0) return d.unscaled * 10n ** BigInt(-d.scale);
  return d.unscaled / 10n ** BigInt(d.scale);
}

function identity(value: Value): Value {
  return value;
}

export function describeValue(value: Value): string {
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return String(value);
}
