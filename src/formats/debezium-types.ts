import type { DataType, Value } from '../core/data-type.js';
import { formatDataType } from '../core/data-type.js';
import { TributaryError } from '../core/errors.js';
import { JsonNumber, float32Text, isJsonObject, type JsonOut, type JsonValue } from './json-value.js';
import {
  civilFromDays,
  dateTimeToMicros,
  dateToDays,
  microsToDateTime,
  microsToTime,
  timeToMicros,
} from './temporal-text.js';

/**
 * How canonical values are written in Debezium's MySQL connector shape, with Debezium's option names and
 * defaults: `decimal.handling.mode` precise (Kafka Connect `Decimal`: the unscaled value as big-endian two's
 * complement bytes), `bigint.unsigned.handling.mode` long, `binary.handling.mode` bytes (base64 text under the
 * JSON converter), `time.precision.mode` adaptive_time_microseconds (the only mode: the others lose digits).
 */
export interface DebeziumTypeOptions {
  readonly decimalHandling: 'precise' | 'string' | 'double';
  readonly bigintUnsignedHandling: 'long' | 'precise';
  readonly binaryHandling: 'bytes' | 'base64' | 'base64-url-safe' | 'hex';
}

export const defaultDebeziumTypeOptions: DebeziumTypeOptions = {
  decimalHandling: 'precise',
  bigintUnsignedHandling: 'long',
  binaryHandling: 'bytes',
};

/** A Kafka Connect field schema as the JSON converter writes it. */
export interface FieldSchema {
  readonly type: string;
  readonly optional: boolean;
  readonly name?: string;
  readonly version?: number;
  readonly parameters?: { readonly [key: string]: string };
  readonly field?: string;
}

const DECIMAL = 'org.apache.kafka.connect.data.Decimal';
const INT64_MAX = 9223372036854775807n;

/** The Kafka Connect schema of a column of canonical type `type`. */
export function debeziumFieldSchema(type: DataType, optional: boolean, options: DebeziumTypeOptions): FieldSchema {
  const plain = (t: string): FieldSchema => ({ type: t, optional });
  const named = (t: string, name: string, parameters?: Record<string, string>): FieldSchema => ({
    type: t,
    optional,
    name,
    version: 1,
    ...(parameters ? { parameters } : {}),
  });
  switch (type.kind) {
    case 'boolean':
      return plain('boolean');
    case 'int8':
    case 'int16':
    case 'uint8':
      return plain('int16');
    case 'int32':
    case 'uint16':
      return plain('int32');
    case 'int64':
    case 'uint32':
      return plain('int64');
    case 'uint64':
      return options.bigintUnsignedHandling === 'precise' ? decimalSchema(20, 0, optional) : plain('int64');
    case 'decimal':
      if (options.decimalHandling === 'string') return plain('string');
      if (options.decimalHandling === 'double') return plain('double');
      return decimalSchema(type.precision, type.scale, optional);
    case 'float':
      return plain('float');
    case 'double':
      return plain('double');
    case 'char':
    case 'varchar':
    case 'string':
      return plain('string');
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return plain(options.binaryHandling === 'bytes' ? 'bytes' : 'string');
    case 'date':
      return named('int32', 'io.debezium.time.Date');
    case 'year':
      return named('int32', 'io.debezium.time.Year');
    case 'json':
      return named('string', 'io.debezium.data.Json');
    case 'time':
      return named('int64', 'io.debezium.time.MicroTime');
    case 'timestamp':
      return type.precision <= 3
        ? named('int64', 'io.debezium.time.Timestamp')
        : named('int64', 'io.debezium.time.MicroTimestamp');
    case 'timestamptz':
      return named('string', 'io.debezium.time.ZonedTimestamp');
    case 'enum':
      return named('string', 'io.debezium.data.Enum', { allowed: type.values.join(',') });
    case 'set':
      return named('string', 'io.debezium.data.EnumSet', { allowed: type.values.join(',') });
    case 'bit':
      return type.length === 1
        ? plain('boolean')
        : named('bytes', 'io.debezium.data.Bits', { length: String(type.length) });
  }
}

function decimalSchema(precision: number, scale: number, optional: boolean): FieldSchema {
  return {
    type: 'bytes',
    optional,
    name: DECIMAL,
    version: 1,
    parameters: { scale: String(scale), 'connect.decimal.precision': String(precision) },
  };
}

/** `value` (canonical, of `type`) as Debezium writes it in JSON. */
export function encodeDebeziumValue(
  value: Value,
  type: DataType,
  options: DebeziumTypeOptions,
  column: string,
): JsonOut {
  if (value === null) return null;
  switch (type.kind) {
    case 'uint64':
      if (options.bigintUnsignedHandling === 'precise') return base64(unscaledBytes(BigInt(value as bigint)));
      if (BigInt(value as bigint) > INT64_MAX) {
        throw new TributaryError(
          'FORMAT_VALUE_UNREPRESENTABLE',
          `column ${column}: ${String(value)} does not fit Debezium's int64 (bigint.unsigned.handling.mode: long)`,
          { hint: 'set the sink option debezium-json.bigint.unsigned.handling.mode: precise' },
        );
      }
      return value as bigint;
    case 'decimal': {
      const text = value as string;
      if (options.decimalHandling === 'string') return text;
      if (options.decimalHandling === 'double') return new JsonNumber(String(Number(text)));
      return base64(unscaledBytes(unscaled(text, type.scale)));
    }
    case 'binary':
    case 'varbinary':
    case 'bytes': {
      const bytes = Buffer.from(value as Uint8Array);
      if (options.binaryHandling === 'hex') return bytes.toString('hex');
      if (options.binaryHandling === 'base64-url-safe') return bytes.toString('base64url');
      return bytes.toString('base64');
    }
    case 'date':
      return dateToDays(value as string);
    case 'time':
      return timeToMicros(value as string);
    case 'timestamp': {
      const micros = dateTimeToMicros(value as string);
      return type.precision <= 3 ? micros / 1000n : micros;
    }
    case 'timestamptz':
      return (value as string).replace(' ', 'T');
    case 'bit':
      return type.length === 1 ? value === '1' : base64(bitsLittleEndian(value as string));
    case 'float':
    case 'double':
      // JSON has no NaN or infinity: written as the strings Java prints, read back as numbers.
      if (!Number.isFinite(value)) return String(value);
      return type.kind === 'float' ? new JsonNumber(float32Text(value as number)) : (value as number);
    default:
      return value as JsonOut;
  }
}

/** The canonical type of a field of Debezium's schema; unknown semantic types are refused. */
export function canonicalTypeOf(schema: FieldSchema, where: string): DataType {
  const p = schema.parameters ?? {};
  switch (schema.name) {
    case DECIMAL:
      return {
        kind: 'decimal',
        precision: Number(p['connect.decimal.precision'] ?? 65),
        scale: Number(p['scale'] ?? 0),
      };
    case 'io.debezium.data.Bits':
      return { kind: 'bit', length: Number(p['length'] ?? 64) };
    case 'io.debezium.time.Date':
    case 'org.apache.kafka.connect.data.Date':
      return { kind: 'date' };
    case 'io.debezium.time.Year':
      return { kind: 'year' };
    case 'io.debezium.data.Json':
      return { kind: 'json' };
    case 'io.debezium.time.MicroTime':
      return { kind: 'time', precision: 6 };
    case 'io.debezium.time.Time':
    case 'org.apache.kafka.connect.data.Time':
      return { kind: 'time', precision: 3 };
    case 'io.debezium.time.Timestamp':
    case 'org.apache.kafka.connect.data.Timestamp':
      return { kind: 'timestamp', precision: 3 };
    case 'io.debezium.time.MicroTimestamp':
      return { kind: 'timestamp', precision: 6 };
    case 'io.debezium.time.ZonedTimestamp':
      return { kind: 'timestamptz', precision: 6 };
    case 'io.debezium.data.Enum':
      return { kind: 'enum', values: (p['allowed'] ?? '').split(',') };
    case 'io.debezium.data.EnumSet':
      return { kind: 'set', values: (p['allowed'] ?? '').split(',') };
    case undefined:
      break;
    default:
      throw unsupported(`${where}: Debezium semantic type ${schema.name} is not supported`);
  }
  switch (schema.type) {
    case 'boolean':
      return { kind: 'boolean' };
    case 'int8':
      return { kind: 'int8' };
    case 'int16':
      return { kind: 'int16' };
    case 'int32':
      return { kind: 'int32' };
    case 'int64':
      return { kind: 'int64' };
    case 'float':
      return { kind: 'float' };
    case 'double':
      return { kind: 'double' };
    case 'string':
      return { kind: 'string' };
    case 'bytes':
      return { kind: 'bytes' };
    default:
      throw unsupported(`${where}: Kafka Connect type ${schema.type} is not supported`);
  }
}

/** A JSON value of a field with canonical type `type` (from {@link canonicalTypeOf}) → the canonical value. */
export function decodeDebeziumValue(json: JsonValue | undefined, type: DataType, where: string): Value {
  if (json === null || json === undefined) return null;
  const fail = (): never => {
    throw new TributaryError(
      'FORMAT_DECODE_FAILED',
      `${where}: ${JSON.stringify(shown(json))} is not a ${formatDataType(type)}`,
      {
        hint: 'the message does not match its own schema; check the producer of the topic or subject',
      },
    );
  };
  const num = (): string => (json instanceof JsonNumber ? json.text : fail());
  const str = (): string => (typeof json === 'string' ? json : fail());
  try {
    switch (type.kind) {
      case 'boolean':
        return typeof json === 'boolean' ? json : fail();
      case 'int8':
      case 'int16':
      case 'int32':
      case 'uint8':
      case 'uint16':
      case 'uint32':
      case 'year':
        return Number(BigInt(num()));
      case 'int64':
      case 'uint64':
        return BigInt(num());
      case 'float':
      case 'double':
        if (typeof json === 'string' && /^(NaN|-?Infinity)$/.test(json)) return Number(json);
        return type.kind === 'float' ? Math.fround(Number(num())) : Number(num());
      case 'decimal':
        return scaled(fromUnscaledBytes(Buffer.from(str(), 'base64')), type.scale);
      case 'bytes':
      case 'binary':
      case 'varbinary':
        return new Uint8Array(Buffer.from(str(), 'base64'));
      case 'date':
        return civilFromDays(Number(BigInt(num())));
      case 'time':
        return microsToTime(BigInt(num()) * (type.precision <= 3 ? 1000n : 1n), type.precision);
      case 'timestamp':
        return microsToDateTime(BigInt(num()) * (type.precision <= 3 ? 1000n : 1n), type.precision);
      case 'timestamptz':
        return `${microsToDateTime(dateTimeToMicros(str()), type.precision)}Z`;
      case 'bit':
        if (typeof json === 'boolean') return json ? '1' : '0';
        return bitsFromLittleEndian(Buffer.from(str(), 'base64'), type.length);
      default:
        return str();
    }
  } catch (error) {
    if (error instanceof TributaryError) throw error;
    return fail();
  }
}

function shown(json: JsonValue): unknown {
  return json instanceof JsonNumber ? json.text : isJsonObject(json) ? '{…}' : json;
}

function unsupported(message: string): TributaryError {
  return new TributaryError('SOURCE_UNSUPPORTED_TYPE', message, {
    hint: 'produce the topic with Debezium defaults (decimal.handling.mode=precise, time.precision.mode=adaptive_time_microseconds)',
  });
}

/** '-12.50' with scale 2 → -1250n. */
function unscaled(text: string, scale: number): bigint {
  const negative = text.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? text.slice(1) : text).split('.');
  const digits = BigInt(whole + fraction.padEnd(scale, '0').slice(0, scale));
  return negative ? -digits : digits;
}

function scaled(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}

/** Big-endian two's complement in the fewest bytes (Java's BigInteger.toByteArray). */
function unscaledBytes(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = value;
  for (;;) {
    const byte = Number(v & 0xffn);
    out.unshift(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return Uint8Array.from(out);
}

function fromUnscaledBytes(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return (bytes[0]! & 0x80) !== 0 ? v - (1n << BigInt(bytes.length * 8)) : v;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** '101' (most significant first) → bytes holding the bits little-endian, ceil(n/8) of them. */
function bitsLittleEndian(bits: string): Uint8Array {
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) {
    if (bits[bits.length - 1 - i] === '1') out[i >> 3]! |= 1 << (i & 7);
  }
  return out;
}

function bitsFromLittleEndian(bytes: Uint8Array, length: number): string {
  let out = '';
  for (let i = length - 1; i >= 0; i--) out += ((bytes[i >> 3] ?? 0) >> (i & 7)) & 1 ? '1' : '0';
  return out;
}
