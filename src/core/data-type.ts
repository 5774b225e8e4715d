/**
 * The canonical type system. Every connector maps its native types to and from these in one file
 * (`<name>-types.ts`); the mapping is documented in docs/type-mapping.md.
 *
 * Value representation in rows (see {@link Value}):
 * - boolean → `boolean`; int8..int32, uint8..uint32, year → `number`; int64, uint64 → `bigint`
 * - decimal → `string` (exact decimal text, never a JS number); float, double → `number`
 * - string, char, enum, json (the JSON text, unparsed so no precision is lost), set ('a,b') → `string`
 * - bit(n) → `string` of n '0'/'1' digits; bytes → `Uint8Array`
 * - date → 'YYYY-MM-DD'; time → '[-]H+:MM:SS[.ffffff]'; timestamp (wall clock) → 'YYYY-MM-DD HH:MM:SS[.ffffff]';
 *   timestamptz (an instant) → 'YYYY-MM-DD HH:MM:SS[.ffffff]Z', always in UTC.
 */
export type DataType =
  | { readonly kind: 'boolean' }
  | { readonly kind: 'int8' | 'int16' | 'int32' | 'int64' }
  | { readonly kind: 'uint8' | 'uint16' | 'uint32' | 'uint64' }
  | { readonly kind: 'decimal'; readonly precision: number; readonly scale: number }
  | { readonly kind: 'float' | 'double' }
  | { readonly kind: 'char' | 'varchar'; readonly length: number }
  | { readonly kind: 'string' }
  | { readonly kind: 'binary' | 'varbinary'; readonly length: number }
  | { readonly kind: 'bytes' }
  | { readonly kind: 'date' | 'year' | 'json' }
  | { readonly kind: 'time' | 'timestamp' | 'timestamptz'; readonly precision: number }
  | { readonly kind: 'enum' | 'set'; readonly values: readonly string[] }
  | { readonly kind: 'bit'; readonly length: number };

export type DataTypeKind = DataType['kind'];

/** One value in a row, in the representation that {@link DataType} documents. `null` is SQL NULL. */
export type Value = null | boolean | number | bigint | string | Uint8Array;

/** A row: values in schema column order. Arrays, not objects, so that hot paths stay cheap. */
export type Row = readonly Value[];

/** Human-readable form, as used in messages and docs: `decimal(7,2)`, `varchar(128)`, `timestamptz(6)`. */
export function formatDataType(type: DataType): string {
  switch (type.kind) {
    case 'decimal':
      return `decimal(${type.precision},${type.scale})`;
    case 'char':
    case 'varchar':
    case 'binary':
    case 'varbinary':
    case 'bit':
      return `${type.kind}(${type.length})`;
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return `${type.kind}(${type.precision})`;
    case 'enum':
    case 'set':
      return `${type.kind}(${type.values.map((v) => `'${v}'`).join(',')})`;
    default:
      return type.kind;
  }
}
