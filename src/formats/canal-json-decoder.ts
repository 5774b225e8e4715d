import type { ChangeOp, SourceInfo } from '../core/change-event.js';
import type { DataType, Row, Value } from '../core/data-type.js';
import { TributaryError } from '../core/errors.js';
import type { TableId, TableSchema } from '../core/table-schema.js';
import type { DecodedChange } from './debezium-json.js';
import { canonicalOfMysql } from './mysql-type-map.js';
import { isJsonObject, JsonSyntaxError, jsonText, parseJson, type JsonObject, type JsonValue } from './json-value.js';

const OP_BY_TYPE: Record<string, ChangeOp> = { INSERT: 'insert', UPDATE: 'update', DELETE: 'delete' };

/**
 * Canal's flat message (as Canal writes it to Kafka/RocketMQ with `canal.mq.flatMessage=true`, and as
 * {@link canalJsonFormat} writes it) → its changes, one per element of `data`. Column types come from
 * `mysqlType` (MySQL's own spelling: `int(11)`, `varchar(255)`, `decimal(10,2)` …; the primary key from
 * `pkNames`. An update's before image is its `data` row with the `old` values of the changed columns put back.
 * DDL messages (`isDdl: true`) and types other than INSERT/UPDATE/DELETE carry no row change: no changes.
 */
export class CanalJsonDecoder {
  private readonly schemas = new Map<string, TableSchema>();

  decode(valueText: string | null): DecodedChange[] {
    if (valueText === null || valueText.trim() === '' || valueText.trim() === 'null') return [];
    let message: JsonValue;
    try {
      message = parseJson(valueText);
    } catch (error) {
      if (error instanceof JsonSyntaxError)
        throw decodeError(`a canal-json message that is not JSON (${error.message})`);
      throw error;
    }
    if (!isJsonObject(message)) throw decodeError('a canal-json message that is not an object');
    if (message['isDdl'] === true) return [];
    const op = OP_BY_TYPE[str(message['type'])];
    if (op === undefined) return [];
    const id: TableId = { namespace: str(message['database']), name: str(message['table']) };
    const where = `${id.namespace}.${id.name}`;
    const data = message['data'];
    if (!Array.isArray(data)) throw decodeError(`a canal-json ${str(message['type'])} of ${where} without data`);
    const schema = this.schemaOf(id, message, data);
    const es = message['es'];
    const source: SourceInfo = { tsMs: es === null || es === undefined ? 0 : Number(str(es)) };
    const old = message['old'];
    return data.map((json, i) => {
      const row = rowOf(schema, json, where);
      if (op === 'insert') return { event: { kind: 'data', table: id, op, before: null, after: row, source }, schema };
      if (op === 'delete') return { event: { kind: 'data', table: id, op, before: row, after: null, source }, schema };
      const previous = Array.isArray(old) ? old[i] : undefined;
      const before = isJsonObject(previous)
        ? schema.columns.map((c, k) =>
            c.name in previous ? canalValueOf(previous[c.name], c.type, `${where}.${c.name}`) : row[k]!,
          )
        : row;
      return { event: { kind: 'data', table: id, op, before, after: row, source }, schema };
    });
  }

  /** The table's schema from `mysqlType` and `pkNames`, cached by their text (they repeat in every message). */
  private schemaOf(id: TableId, message: JsonObject, data: JsonValue[]): TableSchema {
    const where = `${id.namespace}.${id.name}`;
    const types = message['mysqlType'];
    const pkNames = message['pkNames'];
    const cacheKey = `${where}\u0000${jsonText(types ?? null)}\u0000${jsonText(pkNames ?? null)}`;
    let schema = this.schemas.get(cacheKey);
    if (schema) return schema;
    if (!isJsonObject(types)) throw decodeError(`a canal-json message of ${where} without mysqlType`);
    // Column order: mysqlType's (Canal writes it in table order), then any column only the rows name.
    const names = Object.keys(types);
    for (const row of data)
      if (isJsonObject(row)) for (const n of Object.keys(row)) if (!names.includes(n)) names.push(n);
    const primaryKey = Array.isArray(pkNames) ? pkNames.map(str) : [];
    schema = {
      id,
      columns: names.map((name) => {
        const spelled = types[name];
        if (typeof spelled !== 'string') throw decodeError(`column ${where}.${name} has no mysqlType`);
        return {
          name,
          type: canonicalTypeOfMysql(spelled, `${where}.${name}`),
          nullable: !primaryKey.includes(name),
          sourceType: spelled,
        };
      }),
      primaryKey,
    };
    this.schemas.set(cacheKey, schema);
    return schema;
  }
}

function rowOf(schema: TableSchema, json: JsonValue, where: string): Row {
  if (!isJsonObject(json)) throw decodeError(`a canal-json row of ${where} that is not an object`);
  return schema.columns.map((c) => canalValueOf(json[c.name], c.type, `${where}.${c.name}`));
}

/**
 * MySQL's type spelling (as in `mysqlType`, any case) → the canonical type: integers by width and
 * `unsigned`, `decimal(p,s)`, the character and binary types with their lengths, the temporal types with
 * their precision. `tinyint(1)` stays an integer (as Debezium reads it). `timestamp` becomes `timestamp(p)`,
 * a wall clock: Canal writes it in the server's time zone without saying which.
 */
export function canonicalTypeOfMysql(spelled: string, where: string): DataType {
  const m = /^\s*([a-z]+)\s*(?:\(([^)]*)\))?\s*(.*)$/i.exec(spelled);
  if (!m) throw unsupported(spelled, where);
  const base = m[1]!.toLowerCase();
  const args = m[2] ?? '';
  const unsigned = /\bunsigned\b/i.test(m[3] ?? '');
  const first = args.trim() === '' ? undefined : Number(args.split(',')[0]);
  const [p, sc] = args.split(',').map((x) => x.trim());
  const type = canonicalOfMysql(
    {
      base,
      unsigned,
      ...(first === undefined ? {} : { length: first, fsp: first }),
      ...(p ? { precision: Number(p) } : {}),
      ...(sc ? { scale: Number(sc) } : {}),
      values: [...args.matchAll(/'((?:[^']|'')*)'/g)].map((v) => v[1]!.replace(/''/g, "'")),
    },
    { timestamp: 'timestamp', bit1: 'boolean' },
  );
  if (type === undefined) throw unsupported(spelled, where);
  return type;
}

/** A Canal value (text, or null) → the canonical value of `type`. */
export function canalValueOf(json: JsonValue | undefined, type: DataType, where: string): Value {
  if (json === null || json === undefined) return null;
  const text = str(json);
  const fail = (): never => {
    throw decodeError(`value ${JSON.stringify(text)} of ${where} as ${type.kind}`);
  };
  switch (type.kind) {
    case 'boolean':
      if (text === '1' || text === 'true') return true;
      if (text === '0' || text === 'false') return false;
      return fail();
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint8':
    case 'uint16':
    case 'uint32':
    case 'year':
      return /^-?\d+$/.test(text) ? Number(text) : fail();
    case 'int64':
    case 'uint64':
      return /^-?\d+$/.test(text) ? BigInt(text) : fail();
    case 'decimal':
      return /^-?\d+(\.\d+)?$/.test(text) ? fitScale(text, type.scale) : fail();
    case 'float':
    case 'double': {
      const v = Number(text);
      return Number.isNaN(v) && text !== 'NaN' ? fail() : type.kind === 'float' ? Math.fround(v) : v;
    }
    case 'binary':
    case 'varbinary':
    case 'bytes':
      // Canal writes bytes as ISO-8859-1 text: one character per byte.
      return new Uint8Array(Buffer.from(text, 'latin1'));
    case 'bit':
      return /^\d+$/.test(text) ? BigInt(text).toString(2).padStart(type.length, '0') : fail();
    case 'date':
      return /^\d{4}-\d{2}-\d{2}$/.test(text) ? text : fail();
    case 'time':
      return /^-?\d+:\d{2}:\d{2}(\.\d+)?$/.test(text) ? fitFraction(text, type.precision) : fail();
    case 'timestamp':
    case 'timestamptz': {
      if (!/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?Z?$/.test(text)) return fail();
      const wall = fitFraction(text.replace('T', ' ').replace(/Z$/, ''), type.precision);
      return type.kind === 'timestamptz' ? `${wall}Z` : wall;
    }
    case 'char':
    case 'varchar':
    case 'string':
    case 'json':
    case 'enum':
    case 'set':
      return text;
  }
}

/** '12:00:00.5' with precision 3 → '12:00:00.500'; digits beyond the precision must be zeros. */
function fitFraction(text: string, precision: number): string {
  const dot = text.indexOf('.');
  const whole = dot < 0 ? text : text.slice(0, dot);
  const digits = dot < 0 ? '' : text.slice(dot + 1);
  const kept = digits.slice(0, precision).padEnd(precision, '0');
  if (/[^0]/.test(digits.slice(precision))) {
    throw decodeError(`value ${text} has more fraction digits than its type's precision ${precision}`);
  }
  return precision > 0 ? `${whole}.${kept}` : whole;
}

function fitScale(text: string, scale: number): string {
  return fitFraction(text, scale);
}

function str(json: JsonValue | undefined): string {
  if (json === null || json === undefined) return '';
  if (typeof json === 'string') return json;
  if (typeof json === 'boolean') return String(json);
  if (isJsonObject(json) || Array.isArray(json)) return jsonText(json);
  return json.text;
}

function unsupported(spelled: string, where: string): TributaryError {
  return new TributaryError(
    'SOURCE_UNSUPPORTED_TYPE',
    `canal-json column ${where} has type ${spelled}, which is not read`,
    {
      hint: 'exclude the table (source option tables.exclude), or produce it as debezium-json',
    },
  );
}

function decodeError(what: string): TributaryError {
  return new TributaryError('FORMAT_DECODE_FAILED', `cannot decode ${what}`, {
    hint: 'check what produces into this topic: it must be canal-json (Canal flat messages)',
  });
}
