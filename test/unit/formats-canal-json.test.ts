import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dataChange } from '../../src/core/change-event.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { canalJsonFormat } from '../../src/formats/canal-json.js';
import { parseJson, JsonNumber, jsonText } from '../../src/formats/json-value.js';
import { plainJsonFormat } from '../../src/formats/plain-json.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/formats/${name}`, import.meta.url), 'utf8');

/** The products table of Flink's canal-json example. */
const products: TableSchema = {
  id: tableId('inventory', 'products'),
  columns: [
    { name: 'id', type: { kind: 'int32' }, nullable: false, sourceType: 'INTEGER' },
    { name: 'name', type: { kind: 'varchar', length: 255 }, nullable: true, sourceType: 'VARCHAR(255)' },
    { name: 'description', type: { kind: 'varchar', length: 512 }, nullable: true, sourceType: 'VARCHAR(512)' },
    { name: 'weight', type: { kind: 'float' }, nullable: true, sourceType: 'FLOAT' },
  ],
  primaryKey: ['id'],
};

describe('canal-json', () => {
  it('writes the documented UPDATE message field for field', () => {
    const format = canalJsonFormat({ serverName: 'x', nowMs: () => 1589373560798 });
    const before = [111, 'scooter', 'Big 2-wheel scooter', Math.fround(5.15)];
    const after = [111, 'scooter', 'Big 2-wheel scooter', Math.fround(5.18)];
    const [record] = format.encode(dataChange(products.id, 'update', before, after, { tsMs: 1589373560000 }), products);
    const documented = JSON.parse(fixture('canal-products-update.json')) as Record<string, unknown>;
    const ours = JSON.parse(record!.value!) as Record<string, unknown>;
    // `id` is Canal's own batch number, which a change does not have.
    expect({ ...ours, id: documented['id'] }).toEqual(documented);
    expect(record!.key).toBe('{"id":111}');
  });

  it('writes INSERT for snapshot reads and DELETE with the old row in data', () => {
    const format = canalJsonFormat({ serverName: 'x', nowMs: () => 0 });
    const row = [1, 'a', null, 1.5];
    const read = JSON.parse(
      format.encode(dataChange(products.id, 'read', null, row, { tsMs: 0 }), products)[0]!.value!,
    );
    expect(read).toMatchObject({
      type: 'INSERT',
      data: [{ id: '1', name: 'a', description: null, weight: '1.5' }],
      old: null,
    });
    const del = JSON.parse(
      format.encode(dataChange(products.id, 'delete', row, null, { tsMs: 0 }), products)[0]!.value!,
    );
    expect(del).toMatchObject({ type: 'DELETE', data: [{ id: '1' }] });
  });

  it('keeps bytes lossless as ISO-8859-1 text, 64-bit integers and decimals as exact digits', () => {
    const t: TableSchema = {
      id: tableId('db', 't'),
      columns: [
        { name: 'id', type: { kind: 'int64' }, nullable: false },
        { name: 'b', type: { kind: 'bytes' }, nullable: true },
        { name: 'd', type: { kind: 'decimal', precision: 30, scale: 10 }, nullable: true },
      ],
      primaryKey: ['id'],
    };
    const bytes = new Uint8Array([0, 0x80, 0xff, 0x22]);
    const [record] = canalJsonFormat({ serverName: 'x', nowMs: () => 0 }).encode(
      dataChange(t.id, 'insert', null, [-9223372036854775808n, bytes, '-12345678901234567890.0123456789'], { tsMs: 0 }),
      t,
    );
    const data = (JSON.parse(record!.value!) as { data: Record<string, string>[] }).data[0]!;
    expect(data['id']).toBe('-9223372036854775808');
    expect(new Uint8Array(Buffer.from(data['b']!, 'latin1'))).toEqual(bytes);
    expect(data['d']).toBe('-12345678901234567890.0123456789');
    expect(record!.key).toBe('{"id":-9223372036854775808}');
  });
});

describe('json (upsert log)', () => {
  it('writes the row as an object keyed by its primary key, a delete as a tombstone', () => {
    const format = plainJsonFormat();
    const row = [7, 'Grüße 🦀', 'x"y', Math.fround(0.1)];
    const [insert] = format.encode(dataChange(products.id, 'insert', null, row, { tsMs: 0 }), products);
    expect(insert).toEqual({ key: '{"id":7}', value: '{"id":7,"name":"Grüße 🦀","description":"x\\"y","weight":0.1}' });
    expect(format.encode(dataChange(products.id, 'delete', row, null, { tsMs: 0 }), products)).toEqual([
      { key: '{"id":7}', value: null },
    ]);
  });
});

describe('exact JSON', () => {
  it('keeps numbers as written, in both directions', () => {
    const text = '{"a":9007199254740993,"b":[-0.10,1e400],"c":"\\u00e9\\n","d":{"":null,"t":true}}';
    const value = parseJson(text);
    expect(value).toEqual({
      a: new JsonNumber('9007199254740993'),
      b: [new JsonNumber('-0.10'), new JsonNumber('1e400')],
      c: 'é\n',
      d: { '': null, t: true },
    });
    expect(jsonText(value)).toBe('{"a":9007199254740993,"b":[-0.10,1e400],"c":"é\\n","d":{"":null,"t":true}}');
  });

  it('rejects text that is not JSON, with the offset', () => {
    expect(() => parseJson('{"a":1,}')).toThrow(/offset 7/);
    expect(() => parseJson('[1] x')).toThrow(/after the value/);
    expect(() => parseJson('{"__proto__":1}')).not.toThrow();
  });
});
