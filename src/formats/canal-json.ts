import type { DataChangeEvent, SchemaChangeEvent } from '../core/change-event.js';
import type { DataType, Row, Value } from '../core/data-type.js';
import { primaryKeyIndexes, type Column, type TableSchema } from '../core/table-schema.js';
import type { ChangeFormat, FormatContext, LogRecord } from './change-format.js';
import { float32Text, jsonText, type JsonOut } from './json-value.js';
import { plainJsonKey } from './plain-json.js';

/**
 * Canal's flat message (`canal.mq.flatMessage`), as Flink's `canal-json` format reads it: `data` (the rows,
 * every value as a string), `old` (for an update, the changed columns' previous values), `type`
 * INSERT/UPDATE/DELETE, `database`, `table`, `pkNames`, `mysqlType`, `sqlType` (java.sql.Types codes), `es`
 * (source commit time, ms), `ts` (processing time, ms), `isDdl`, `sql`, `id`. Snapshot reads are INSERTs.
 */
export function canalJsonFormat(context: FormatContext): ChangeFormat {
  const types = new WeakMap<TableSchema, { mysqlType: JsonOut; sqlType: JsonOut; keyIndexes: number[] }>();
  return {
    name: 'canal-json',
    encode(event: DataChangeEvent, table: TableSchema): LogRecord[] {
      let t = types.get(table);
      if (!t) {
        t = {
          mysqlType: Object.fromEntries(table.columns.map((c) => [c.name, mysqlTypeName(c)])),
          sqlType: Object.fromEntries(table.columns.map((c) => [c.name, jdbcType(c.type)])),
          keyIndexes: primaryKeyIndexes(table),
        };
        types.set(table, t);
      }
      const row = event.op === 'delete' ? event.before! : event.after!;
      let old: JsonOut = null;
      if (event.op === 'update' && event.before) {
        const changed: Record<string, JsonOut> = {};
        table.columns.forEach((c, i) => {
          const was = canalValue(event.before![i] ?? null, c.type);
          if (was !== canalValue(event.after![i] ?? null, c.type)) changed[c.name] = was;
        });
        old = [changed];
      }
      const value = jsonText({
        data: [rowObject(table, row)],
        database: event.table.namespace,
        es: event.source.tsMs,
        id: 0,
        isDdl: false,
        mysqlType: t.mysqlType,
        old,
        pkNames: table.primaryKey.length > 0 ? table.primaryKey : null,
        sql: '',
        sqlType: t.sqlType,
        table: event.table.name,
        ts: context.nowMs(),
        type: event.op === 'update' ? 'UPDATE' : event.op === 'delete' ? 'DELETE' : 'INSERT',
      });
      return [{ key: plainJsonKey(table, row, t.keyIndexes), value }];
    },
    encodeTableChange(event: SchemaChangeEvent): LogRecord[] {
      // Canal's DDL messages: isDdl true, the statement in `sql`; TRUNCATE and ERASE (a dropped table) are
      // Canal's own event types for them.
      const type = event.change === 'truncateTable' ? 'TRUNCATE' : event.change === 'dropTable' ? 'ERASE' : undefined;
      if (type === undefined) return [];
      const name = `\`${event.table.namespace.replace(/`/g, '``')}\`.\`${event.table.name.replace(/`/g, '``')}\``;
      const value = jsonText({
        data: null,
        database: event.table.namespace,
        es: event.source.tsMs,
        id: 0,
        isDdl: true,
        mysqlType: null,
        old: null,
        pkNames: null,
        sql: event.ddl ?? (type === 'TRUNCATE' ? `TRUNCATE TABLE ${name}` : `DROP TABLE ${name}`),
        sqlType: null,
        table: event.table.name,
        ts: context.nowMs(),
        type,
      });
      return [{ key: null, value }];
    },
  };
}

function rowObject(table: TableSchema, row: Row): JsonOut {
  const out: Record<string, JsonOut> = {};
  table.columns.forEach((c, i) => (out[c.name] = canalValue(row[i] ?? null, c.type)));
  return out;
}

/**
 * Canal writes every value as text: numbers and decimals in their digits, binary data as ISO-8859-1 text (one
 * character per byte, as Canal does — lossless), BIT as its unsigned number, temporal values as canonical text
 * (timestamptz in UTC, without the 'Z').
 */
export function canalValue(value: Value, type: DataType): string | null {
  if (value === null) return null;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('latin1');
  if (type.kind === 'bit') return BigInt(`0b${value as string}`).toString();
  if (type.kind === 'timestamptz') return (value as string).replace(/Z$/, '');
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (type.kind === 'float') return float32Text(value as number);
  return String(value);
}

function mysqlTypeName(column: Column): string {
  if (column.sourceType) return column.sourceType;
  const t = column.type;
  switch (t.kind) {
    case 'boolean':
      return 'tinyint(1)';
    case 'int8':
      return 'tinyint';
    case 'int16':
      return 'smallint';
    case 'int32':
      return 'int';
    case 'int64':
      return 'bigint';
    case 'uint8':
      return 'tinyint unsigned';
    case 'uint16':
      return 'smallint unsigned';
    case 'uint32':
      return 'int unsigned';
    case 'uint64':
      return 'bigint unsigned';
    case 'decimal':
      return `decimal(${t.precision},${t.scale})`;
    case 'char':
    case 'varchar':
    case 'binary':
    case 'varbinary':
    case 'bit':
      return `${t.kind}(${t.length})`;
    case 'string':
      return 'longtext';
    case 'bytes':
      return 'longblob';
    case 'time':
      return t.precision > 0 ? `time(${t.precision})` : 'time';
    case 'timestamp':
      return t.precision > 0 ? `datetime(${t.precision})` : 'datetime';
    case 'timestamptz':
      return t.precision > 0 ? `timestamp(${t.precision})` : 'timestamp';
    case 'enum':
    case 'set':
      return `${t.kind}(${t.values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',')})`;
    default:
      return t.kind;
  }
}

/** java.sql.Types codes, as Canal's `sqlType` carries them. */
function jdbcType(type: DataType): number {
  switch (type.kind) {
    case 'boolean':
    case 'bit':
      return -7;
    case 'int8':
    case 'uint8':
      return -6;
    case 'int16':
    case 'uint16':
      return 5;
    case 'int32':
    case 'uint32':
      return 4;
    case 'int64':
    case 'uint64':
      return -5;
    case 'decimal':
      return 3;
    case 'float':
      return 7;
    case 'double':
      return 8;
    case 'char':
      return 1;
    case 'varchar':
    case 'enum':
    case 'set':
    case 'json':
      return 12;
    case 'string':
      return 2005;
    case 'binary':
      return -2;
    case 'varbinary':
      return -3;
    case 'bytes':
      return 2004;
    case 'date':
    case 'year':
      return 91;
    case 'time':
      return 92;
    case 'timestamp':
    case 'timestamptz':
      return 93;
  }
}
