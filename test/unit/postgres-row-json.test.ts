import { describe, expect, it } from 'vitest';
import { rowJson } from '../../src/connectors/postgres/postgres-row-json.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';

const schema: TableSchema = {
  id: tableId('db', 't'),
  columns: [
    { name: 'id', type: { kind: 'uint64' }, nullable: false },
    { name: 'flag', type: { kind: 'boolean' }, nullable: true },
    { name: 'price', type: { kind: 'decimal', precision: 65, scale: 30 }, nullable: true },
    { name: 'ratio', type: { kind: 'double' }, nullable: true },
    { name: 'doc', type: { kind: 'json' }, nullable: true },
    { name: 'raw', type: { kind: 'bytes' }, nullable: true },
    { name: 'say "hi"', type: { kind: 'string' }, nullable: true },
    { name: 'at', type: { kind: 'timestamptz', precision: 6 }, nullable: true },
    { name: 'none', type: { kind: 'int32' }, nullable: true },
  ],
  primaryKey: ['id'],
};

describe('rowJson', () => {
  it('writes numbers with every digit, embeds JSON, and spells bytes as PostgreSQL does', () => {
    const text = rowJson(
      [
        18446744073709551615n,
        true,
        '-12345678901234567890.000000000000000000000000000001',
        0.1,
        '{"a": [1.50]}',
        new Uint8Array([0, 0x5c, 0xff]),
        'tab\t"quote"\\ 北京',
        '2024-01-01 00:00:00.000001Z',
        null,
      ],
      schema,
    );
    expect(text).toBe(
      '{"id":18446744073709551615,"flag":true,"price":-12345678901234567890.000000000000000000000000000001,' +
        '"ratio":0.1,"doc":{"a": [1.50]},"raw":"\\\\x005cff","say \\"hi\\"":"tab\\t\\"quote\\"\\\\ 北京",' +
        '"at":"2024-01-01 00:00:00.000001Z","none":null}',
    );
    // Valid JSON (JSON.parse rounds the big numbers; jsonb does not).
    expect(JSON.parse(text)).toMatchObject({ raw: '\\x005cff', 'say "hi"': 'tab\t"quote"\\ 北京' });
  });

  it('writes NaN and infinities as strings, and decimal text that is not a JSON number as a string', () => {
    const row = [1n, null, '.5', Number.NaN, null, null, null, null, Number.NEGATIVE_INFINITY];
    expect(JSON.parse(rowJson(row, schema))).toMatchObject({ price: '.5', ratio: 'NaN', none: '-Infinity' });
  });
});
