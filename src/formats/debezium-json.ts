import type { ChangeOp, DataChangeEvent, SchemaChangeEvent, SourceInfo } from '../core/change-event.js';
import type { Row } from '../core/data-type.js';
import { TributaryError } from '../core/errors.js';
import { primaryKeyIndexes, type Column, type TableId, type TableSchema } from '../core/table-schema.js';
import type { ChangeFormat, FormatContext, LogRecord } from './change-format.js';
import {
  canonicalTypeOf,
  debeziumFieldSchema,
  decodeDebeziumValue,
  encodeDebeziumValue,
  type DebeziumTypeOptions,
  type FieldSchema,
} from './debezium-types.js';
import {
  isJsonObject,
  jsonText,
  parseJson,
  splitSchemaPayload,
  JsonSyntaxError,
  type JsonObject,
  type JsonOut,
  type JsonValue,
} from './json-value.js';

export interface DebeziumJsonOptions extends DebeziumTypeOptions {
  /** Write the Kafka Connect `schema` part beside `payload` (the JSON converter's `schemas.enable`, default true). */
  readonly schemaInclude: boolean;
  /** After a delete, a second record with the key and a null value (Debezium's `tombstones.on.delete`). */
  readonly tombstones: boolean;
}

/** Written as the source block's `version`: the producer, not a Debezium release. */
export const TRIBUTARY_SOURCE_VERSION = 'tributary-1';

const OPS: Record<ChangeOp, string> = { insert: 'c', update: 'u', delete: 'd', read: 'r' };

/**
 * The `debezium-json` format: the envelope of Debezium's MySQL connector (`before`, `after`, `source`, `op`,
 * `ts_ms`, `transaction`), with the Kafka Connect schema when `schemaInclude`, and a tombstone after each delete
 * when `tombstones`. Key: the primary-key columns as a struct.
 */
export function debeziumJsonFormat(options: DebeziumJsonOptions, context: FormatContext): ChangeFormat {
  /** What is the same in every record of a table: the schema parts, the key's columns, each column's `"name":`. */
  const schemas = new WeakMap<TableSchema, { key: string; value: string; keyIndexes: number[]; names: string[] }>();
  const schemaOf = (table: TableSchema) => {
    let found = schemas.get(table);
    if (!found) {
      found = {
        key: jsonText(keySchema(table, options, context.serverName)),
        value: jsonText(envelopeSchema(table, options, context.serverName)),
        keyIndexes: primaryKeyIndexes(table),
        names: table.columns.map((c) => `${JSON.stringify(c.name)}:`),
      };
      schemas.set(table, found);
    }
    return found;
  };
  /** The JSON object of the columns `indexes` of `row` (every column without), written as text: no object per row. */
  const rowText = (table: TableSchema, names: readonly string[], row: Row, indexes?: readonly number[]): string => {
    let text = '{';
    const count = indexes === undefined ? table.columns.length : indexes.length;
    for (let n = 0; n < count; n++) {
      const i = indexes === undefined ? n : indexes[n]!;
      const column = table.columns[i]!;
      const value = encodeDebeziumValue(row[i] ?? null, column.type, options, column.name);
      text += `${n === 0 ? '' : ','}${names[i]!}${jsonText(value)}`;
    }
    return `${text}}`;
  };
  const serverName = JSON.stringify(context.serverName);
  /** The envelope `{ before, after, source, op, ts_ms, transaction }` from its parts' JSON texts. */
  const payloadText = (before: string, after: string, source: string, op: string): string =>
    `{"before":${before},"after":${after},"source":${source},"op":"${op}","ts_ms":${jsonText(context.nowMs())},"transaction":null}`;
  return {
    name: 'debezium-json',
    encode(event: DataChangeEvent, table: TableSchema): LogRecord[] {
      const { key: keyJsonSchema, value: valueSchema, keyIndexes, names } = schemaOf(table);
      const keyRow = event.after ?? event.before;
      let key: string | null = null;
      if (keyIndexes.length > 0 && keyRow) {
        const payload = rowText(table, names, keyRow, keyIndexes);
        key = options.schemaInclude ? `{"schema":${keyJsonSchema},"payload":${payload}}` : payload;
      }
      const payload = payloadText(
        event.before === null ? 'null' : rowText(table, names, event.before),
        event.after === null ? 'null' : rowText(table, names, event.after),
        sourceText(event.table, event.source, event.op === 'read', serverName),
        OPS[event.op],
      );
      // The schema part is the same for every row of a table: written once, spliced in.
      const value = options.schemaInclude ? `{"schema":${valueSchema},"payload":${payload}}` : payload;
      const records: LogRecord[] = [{ key, value }];
      if (event.op === 'delete' && options.tombstones && key !== null) records.push({ key, value: null });
      return records;
    },
    encodeTableChange(event: SchemaChangeEvent): LogRecord[] {
      // Debezium's truncate event (its PostgreSQL connector's shape): no row images, `op: t`. A dropped table
      // has no event in Debezium's data topics.
      if (event.change !== 'truncateTable') return [];
      const payload = payloadText('null', 'null', sourceText(event.table, event.source, false, serverName), 't');
      const value = options.schemaInclude ? `{"schema":${schemaOf(event.schema).value},"payload":${payload}}` : payload;
      return [{ key: null, value }];
    },
  };
}

/** A MySQL position `file:transaction-start:row-index` (see SourceInfo.position). */
const MYSQL_POSITION = /^(.*):(\d{12}):(\d{10})$/;

/**
 * The MySQL connector's source block as JSON text, from what an event knows (see docs/formats.md for the fields it
 * lacks); `serverName` is already JSON text. Written without an object per record.
 */
export function sourceText(table: TableId, source: SourceInfo, snapshot: boolean, serverName: string): string {
  const position = MYSQL_POSITION.exec(source.position ?? '');
  const txId = source.txId ?? null;
  return (
    `{"version":"${TRIBUTARY_SOURCE_VERSION}","connector":"mysql","name":${serverName}` +
    `,"ts_ms":${jsonText(source.tsMs)},"snapshot":"${snapshot ? 'true' : 'false'}"` +
    `,"db":${JSON.stringify(table.namespace)},"sequence":null,"table":${JSON.stringify(table.name)},"server_id":0` +
    `,"gtid":${txId === null ? 'null' : JSON.stringify(txId)},"file":${JSON.stringify(position ? position[1]! : '')}` +
    `,"pos":${position ? Number(position[2]) : 0},"row":${position ? Number(position[3]) : 0},"thread":null,"query":null}`
  );
}

function fieldsOf(columns: readonly Column[], options: DebeziumTypeOptions): FieldSchema[] {
  return columns.map((c) => ({ ...debeziumFieldSchema(c.type, c.nullable, options), field: c.name }));
}

function recordName(serverName: string, table: TableId, suffix: string): string {
  return `${serverName}.${table.namespace}.${table.name}.${suffix}`;
}

function keySchema(table: TableSchema, options: DebeziumTypeOptions, serverName: string): JsonOut {
  const keyColumns = table.primaryKey.map((name) => table.columns.find((c) => c.name === name)!);
  return {
    type: 'struct',
    fields: fieldsOf(
      keyColumns.map((c) => ({ ...c, nullable: false })),
      options,
    ) as unknown as JsonOut,
    optional: false,
    name: recordName(serverName, table.id, 'Key'),
  };
}

function envelopeSchema(table: TableSchema, options: DebeziumTypeOptions, serverName: string): JsonOut {
  const row = (field: string): JsonOut => ({
    type: 'struct',
    fields: fieldsOf(table.columns, options) as unknown as JsonOut,
    optional: true,
    name: recordName(serverName, table.id, 'Value'),
    field,
  });
  const s = (type: string, field: string, optional = false): JsonOut => ({ type, optional, field });
  return {
    type: 'struct',
    fields: [
      row('before'),
      row('after'),
      {
        type: 'struct',
        fields: [
          s('string', 'version'),
          s('string', 'connector'),
          s('string', 'name'),
          s('int64', 'ts_ms'),
          {
            type: 'string',
            optional: true,
            name: 'io.debezium.data.Enum',
            version: 1,
            parameters: { allowed: 'true,last,false,incremental' },
            default: 'false',
            field: 'snapshot',
          },
          s('string', 'db'),
          s('string', 'sequence', true),
          s('string', 'table', true),
          s('int64', 'server_id'),
          s('string', 'gtid', true),
          s('string', 'file'),
          s('int64', 'pos'),
          s('int32', 'row'),
          s('int64', 'thread', true),
          s('string', 'query', true),
        ],
        optional: false,
        name: 'io.debezium.connector.mysql.Source',
        field: 'source',
      },
      s('string', 'op'),
      s('int64', 'ts_ms', true),
      {
        type: 'struct',
        fields: [s('string', 'id'), s('int64', 'total_order'), s('int64', 'data_collection_order')],
        optional: true,
        name: 'event.block',
        version: 1,
        field: 'transaction',
      },
    ],
    optional: false,
    name: recordName(serverName, table.id, 'Envelope'),
    version: 1,
  };
}

/** One Debezium change decoded: the table's schema comes from the message's own schema part. */
export interface DecodedChange {
  readonly event: DataChangeEvent;
  readonly schema: TableSchema;
}

const OP_BY_CODE: Record<string, ChangeOp> = { c: 'insert', u: 'update', d: 'delete', r: 'read' };

/**
 * A Debezium change event (as Debezium or {@link debeziumJsonFormat} writes it, with the schema part) → the
 * change. Null for records that carry no row change: tombstones, truncates (`op: t`), logical messages.
 * `keyText` gives the primary key's columns (its schema's fields); without it the table has no key.
 */
export class DebeziumJsonDecoder {
  private readonly schemas = new Map<string, TableSchema>();
  /**
   * The previous message's schema texts and table: a run of one table's messages (the usual case) is recognised
   * by comparing texts, without scanning the schema part or building the cache key of every message.
   */
  private last: { valueSchema: string; keySchema: string; where: string; schema: TableSchema } | undefined;

  decode(valueText: string | null, keyText: string | null): DecodedChange | null {
    if (valueText === null || valueText.trim() === '' || valueText.trim() === 'null') return null;
    // The schema part repeats in every message of a table: its text is the cache key, only the payload is parsed.
    const split = splitSchemaPayload(valueText, this.last?.valueSchema);
    let payload: JsonValue | undefined;
    let schemaText: string;
    let schemaJson: JsonValue | undefined;
    if (split) {
      payload = parseOrFail(split.payload, 'value');
      schemaText = split.schema;
    } else {
      const value = parseOrFail(valueText, 'value');
      payload = isJsonObject(value) ? value['payload'] : undefined;
      schemaJson = isJsonObject(value) ? value['schema'] : undefined;
      schemaText = isJsonObject(schemaJson) ? jsonText(schemaJson) : '';
    }
    if (!isJsonObject(payload) || schemaText === '' || schemaText === 'null') {
      throw decodeError(
        'a debezium-json value without its schema part',
        'produce the topic with schemas (Kafka Connect JsonConverter schemas.enable=true, or the sink option debezium-json.schema-include: true)',
      );
    }
    const op = OP_BY_CODE[text(payload['op'])];
    if (op === undefined) return null;
    const source = payload['source'];
    if (!isJsonObject(source)) throw decodeError('a debezium-json value without a source block');
    const id: TableId = { namespace: text(source['db']), name: text(source['table']) };
    const where = `${id.namespace}.${id.name}`;
    const last = this.last;
    const keySplit = keyText === null ? undefined : splitSchemaPayload(keyText, last?.keySchema);
    const keyPart = keyText === null ? '' : keySplit ? keySplit.schema : keyText;
    const same =
      last !== undefined && last.valueSchema === schemaText && last.keySchema === keyPart && last.where === where;
    const cacheKey = same ? '' : `${where}\u0000${schemaText}\u0000${keyPart}`;
    let schema = same ? last.schema : this.schemas.get(cacheKey);
    if (!schema) {
      const schemaObject = schemaJson ?? parseOrFail(schemaText, 'schema');
      if (!isJsonObject(schemaObject)) throw decodeError('a debezium-json value whose schema part is not an object');
      const fields = rowFields(schemaObject, where);
      const primaryKey = keyText === null ? [] : keyColumns(parseOrFail(keyText, 'key'));
      schema = {
        id,
        columns: fields.map((f) => ({
          name: f.field!,
          type: canonicalTypeOf(f, `${where}.${f.field}`),
          nullable: f.optional,
        })),
        primaryKey,
      };
      this.schemas.set(cacheKey, schema);
    }
    if (!same) this.last = { valueSchema: schemaText, keySchema: keyPart, where, schema };
    const table = schema;
    const row = (json: JsonValue | undefined): Row | null => {
      if (!isJsonObject(json)) return null;
      return table.columns.map((c) => decodeDebeziumValue(json[c.name], c.type, `${where}.${c.name}`));
    };
    const before = op === 'update' || op === 'delete' ? row(payload['before']) : null;
    const after = op === 'delete' ? null : row(payload['after']);
    if ((op === 'delete' && !before) || (op !== 'delete' && !after)) {
      throw decodeError(`a debezium-json '${text(payload['op'])}' event of ${where} without its row image`);
    }
    const gtid = source['gtid'];
    const tsMs = source['ts_ms'];
    const info: SourceInfo = {
      tsMs: tsMs === null || tsMs === undefined ? 0 : Number(text(tsMs)),
      ...(typeof gtid === 'string' ? { txId: gtid } : {}),
    };
    return { event: { kind: 'data', table: id, op, before, after, source: info }, schema };
  }
}

function rowFields(schema: JsonObject, where: string): FieldSchema[] {
  const fields = schema['fields'];
  if (Array.isArray(fields)) {
    for (const f of fields) {
      if (isJsonObject(f) && (f['field'] === 'after' || f['field'] === 'before') && Array.isArray(f['fields'])) {
        return f['fields'].map((c) => fieldSchema(c, where));
      }
    }
  }
  throw decodeError(`the schema of ${where} has no before/after struct`);
}

function fieldSchema(json: JsonValue, where: string): FieldSchema {
  if (!isJsonObject(json)) throw decodeError(`a field schema of ${where} is not an object`);
  const parameters = json['parameters'];
  const version = json['version'];
  return {
    type: text(json['type']),
    optional: json['optional'] === true,
    ...(typeof json['name'] === 'string' ? { name: json['name'] } : {}),
    ...(version !== undefined && version !== null ? { version: Number(text(version)) } : {}),
    ...(isJsonObject(parameters)
      ? { parameters: Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, text(v)])) }
      : {}),
    ...(typeof json['field'] === 'string' ? { field: json['field'] } : {}),
  };
}

function keyColumns(key: JsonValue): string[] {
  if (!isJsonObject(key)) return [];
  const schema = key['schema'];
  if (isJsonObject(schema) && Array.isArray(schema['fields'])) {
    return schema['fields'].flatMap((f) => (isJsonObject(f) && typeof f['field'] === 'string' ? [f['field']] : []));
  }
  return Object.keys(isJsonObject(key['payload']) ? key['payload'] : key);
}

function text(json: JsonValue | undefined): string {
  if (json === null || json === undefined) return '';
  if (typeof json === 'string') return json;
  if (typeof json === 'boolean') return String(json);
  if (isJsonObject(json) || Array.isArray(json)) return jsonText(json);
  return json.text;
}

function parseOrFail(textValue: string, part: string): JsonValue {
  try {
    return parseJson(textValue);
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw decodeError(`a message ${part} that is not JSON (${error.message})`);
    throw error;
  }
}

function decodeError(
  what: string,
  hint = 'check what produces into this topic or subject: it must be debezium-json',
): TributaryError {
  return new TributaryError('FORMAT_DECODE_FAILED', `cannot decode ${what}`, { hint });
}
