import { randomBytes } from 'node:crypto';

/**
 * The part of Avro that Iceberg's manifests and manifest lists use, for writing object container files
 * (Avro 1.11 specification, "Object Container Files"): primitives, records, arrays and `["null", T]` unions.
 * Field annotations (`field-id`, `element-id`) are kept in the schema JSON for readers; the encoder ignores them.
 */
export type AvroType =
  'null' | 'boolean' | 'int' | 'long' | 'string' | 'bytes' | AvroRecord | AvroArray | readonly AvroType[];

export interface AvroRecord {
  readonly type: 'record';
  readonly name: string;
  readonly fields: readonly AvroField[];
}

export interface AvroField {
  readonly name: string;
  readonly type: AvroType;
  readonly 'field-id'?: number;
  readonly doc?: string;
}

export interface AvroArray {
  readonly type: 'array';
  readonly items: AvroType;
  readonly 'element-id'?: number;
}

/** A growable byte buffer with Avro's binary encodings. */
class AvroBuffer {
  private bytes = Buffer.alloc(4096);
  length = 0;

  private reserve(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    const grown = Buffer.alloc(Math.max(this.bytes.length * 2, this.length + extra));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }

  /** int and long: zig-zag, then base-128 varint, least significant group first. */
  long(value: number | bigint): void {
    let n = BigInt(value);
    n = n >= 0n ? n << 1n : (-n << 1n) - 1n;
    this.reserve(10);
    while (n > 0x7fn) {
      this.bytes[this.length++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    this.bytes[this.length++] = Number(n);
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** bytes and string: a long length, then the bytes. */
  sized(bytes: Uint8Array): void {
    this.long(bytes.length);
    this.raw(bytes);
  }

  take(): Buffer {
    const out = Buffer.from(this.bytes.subarray(0, this.length));
    this.length = 0;
    return out;
  }
}

function encode(out: AvroBuffer, type: AvroType, value: unknown, path: string): void {
  if (Array.isArray(type)) {
    // Unions: Iceberg uses only ["null", T]; the branch index comes first.
    const branches = type as readonly AvroType[];
    const index =
      value === null || value === undefined ? branches.indexOf('null') : branches.findIndex((t) => t !== 'null');
    if (index < 0) throw new Error(`avro: no branch of the union at ${path} takes ${String(value)}`);
    out.long(index);
    encode(out, branches[index]!, value, path);
    return;
  }
  if (typeof type === 'object') {
    const complex = type as AvroRecord | AvroArray;
    if (complex.type === 'record') {
      const record = (value ?? {}) as Record<string, unknown>;
      for (const field of complex.fields) encode(out, field.type, record[field.name] ?? null, `${path}.${field.name}`);
      return;
    }
    const items = value as readonly unknown[];
    if (items.length > 0) {
      out.long(items.length);
      for (const item of items) encode(out, complex.items, item, `${path}[]`);
    }
    out.long(0);
    return;
  }
  switch (type) {
    case 'null':
      return;
    case 'boolean':
      out.raw(Uint8Array.of(value === true ? 1 : 0));
      return;
    case 'int':
    case 'long':
      if (typeof value !== 'number' && typeof value !== 'bigint') throw new Error(`avro: ${path} needs a ${type}`);
      out.long(value);
      return;
    case 'string':
      out.sized(Buffer.from(String(value), 'utf8'));
      return;
    case 'bytes':
      out.sized(value as Uint8Array);
      return;
  }
}

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);

/**
 * An Avro object container file of `records`, uncompressed (`avro.codec` null), in one block. `metadata` adds to
 * the header's key-value pairs (Iceberg puts the table schema and partition spec there).
 */
export function avroContainerFile(
  schema: AvroRecord,
  records: readonly unknown[],
  metadata: Readonly<Record<string, string>> = {},
): Buffer {
  const sync = randomBytes(16);
  const header = new AvroBuffer();
  header.raw(MAGIC);
  const pairs = Object.entries({ ...metadata, 'avro.schema': JSON.stringify(schema), 'avro.codec': 'null' });
  header.long(pairs.length);
  for (const [key, value] of pairs) {
    header.sized(Buffer.from(key, 'utf8'));
    header.sized(Buffer.from(value, 'utf8'));
  }
  header.long(0);
  header.raw(sync);
  const body = new AvroBuffer();
  for (const record of records) encode(body, schema, record, schema.name);
  const block = new AvroBuffer();
  if (records.length > 0) {
    block.long(records.length);
    block.long(body.length);
    block.raw(body.take());
    block.raw(sync);
  }
  return Buffer.concat([header.take(), block.take()]);
}

/** Reads values back in the order {@link avroContainerFile} wrote them. */
class AvroReader {
  offset = 0;
  constructor(readonly bytes: Buffer) {}

  long(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.bytes[this.offset++];
      if (byte === undefined) throw new Error('avro: file ends inside a number');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7n;
    }
    return (result & 1n) === 0n ? result >> 1n : -((result + 1n) >> 1n);
  }

  sized(): Buffer {
    const length = Number(this.long());
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  value(type: AvroType): unknown {
    if (Array.isArray(type)) return this.value((type as readonly AvroType[])[Number(this.long())]!);
    if (typeof type === 'object') {
      const complex = type as AvroRecord | AvroArray;
      if (complex.type === 'record') {
        return Object.fromEntries(complex.fields.map((field) => [field.name, this.value(field.type)]));
      }
      const items: unknown[] = [];
      for (let count = this.long(); count !== 0n; count = this.long()) {
        if (count < 0n) this.long(); // a negative count is followed by the block's size in bytes
        for (let i = 0n; i < (count < 0n ? -count : count); i++) items.push(this.value(complex.items));
      }
      return items;
    }
    switch (type) {
      case 'null':
        return null;
      case 'boolean':
        return this.bytes[this.offset++] === 1;
      case 'int':
        return Number(this.long());
      case 'long':
        return this.long();
      case 'string':
        return this.sized().toString('utf8');
      case 'bytes':
        return this.sized();
    }
  }
}

/**
 * The records of an uncompressed Avro container file, decoded with the writer's schema from its header: ints as
 * numbers, longs as bigints. For reading back the manifests and manifest lists this sink wrote.
 */
export function readAvroContainerFile(bytes: Buffer): Record<string, unknown>[] {
  const reader = new AvroReader(bytes);
  if (!bytes.subarray(0, 4).equals(MAGIC)) throw new Error('avro: not an object container file');
  reader.offset = 4;
  const metadata = new Map<string, string>();
  for (let count = reader.long(); count !== 0n; count = reader.long()) {
    if (count < 0n) reader.long();
    for (let i = 0n; i < (count < 0n ? -count : count); i++) {
      metadata.set(reader.sized().toString('utf8'), reader.sized().toString('utf8'));
    }
  }
  const codec = metadata.get('avro.codec') ?? 'null';
  if (codec !== 'null') throw new Error(`avro: codec ${codec} is not supported`);
  const schema = JSON.parse(metadata.get('avro.schema') ?? 'null') as AvroType;
  reader.offset += 16;
  const records: Record<string, unknown>[] = [];
  while (reader.offset < bytes.length) {
    const count = Number(reader.long());
    reader.long();
    for (let i = 0; i < count; i++) records.push(reader.value(schema) as Record<string, unknown>);
    reader.offset += 16;
  }
  return records;
}
