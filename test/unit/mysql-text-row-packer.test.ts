import { describe, expect, it } from 'vitest';
import type { DataType, Row } from '../../src/core/data-type.js';
import { unpackEvents, type PackedRows } from '../../src/core/packed-rows.js';
import { TextRowDecoder } from '../../src/connectors/mysql/protocol/text-row-decoder.js';
import { TextRowPacker } from '../../src/connectors/mysql/protocol/text-row-packer.js';
import { CopyTextWriter } from '../../src/connectors/postgres/postgres-copy-writer.js';
import {
  sliceRuns,
  writePackedRows,
  writeRowFields,
  type PackedSlice,
} from '../../src/connectors/postgres/postgres-copy-stream.js';
import { ChangeBuffer, isRow } from '../../src/connectors/sink-kit/change-buffer.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { rowPayload } from '../harness/text-row-payload.js';

/**
 * One column per kind, with field texts as MariaDB's text protocol sends them: values written as they are,
 * and the ones the packer must mark for decoding (ZEROFILL, zero dates, doubles in exponent form or with 16–17
 * digits, `0`, `-0`, text that is not UTF-8).
 */
const COLUMNS: readonly (readonly [DataType, readonly (string | Buffer | null)[]])[] = [
  [{ kind: 'int32' }, ['7', '-2147483648', '0', '0007', '-007', null]],
  [{ kind: 'int64' }, ['9223372036854775807', '-1', '0', '00000000000000000042', '5', null]],
  [{ kind: 'uint64' }, ['18446744073709551615', '1', '0', '3', '4', '5']],
  [{ kind: 'year' }, ['2024', '0000', '1901', '2155', null, '2000']],
  [{ kind: 'decimal', precision: 20, scale: 4 }, ['-12.5000', '0.0000', '99999999.9999', null, '1.0000', '-0.0001']],
  [
    { kind: 'double' },
    ['0.1', '1e308', '-0', '0', '0.14285714285714285', '123456789012345', '0.00001', '0.000001', '-2.5', '1e-7', null],
  ],
  [{ kind: 'float' }, ['0.5', '3.4028234663852886e38', '0.10000000149011612', '-1.25', null, '16777216']],
  [{ kind: 'boolean' }, ['0', '1', null, '1', '0', '1']],
  [
    { kind: 'varchar', length: 64 },
    [
      '',
      'plain',
      'Grüße, 北京 🦀',
      'tab\there\nnew\rline\\back',
      'x'.repeat(300),
      'y'.repeat(250) + '\t\\z\n', // long text is scanned natively: escapes still found, each alone too
      'b'.repeat(240) + '\\',
      '\t' + 't'.repeat(240),
      'r'.repeat(120) + '\r' + 'r'.repeat(120),
      'ü'.repeat(150) + '🦀',
      Buffer.concat([Buffer.alloc(250, 0x61), Buffer.from([0xff])]), // long, not UTF-8
      Buffer.from([0x61, 0xff, 0xfe, 0x62]), // not UTF-8
      'é\\',
      null,
    ],
  ],
  [{ kind: 'json' }, ['{"a": [1, 2.50, "x\\n"]}', null, '[]', '{}', '"ü"', '1']],
  [{ kind: 'enum', values: ['a', 'b'] }, ['b', 'a', null, 'b', 'a', 'b']],
  [{ kind: 'time', precision: 6 }, ['-838:59:59.000000', '12:00:00.000001', null, '00:00:00', '1:2:3', '0']],
  [{ kind: 'date' }, ['2024-02-29', '0000-00-00', '2024-00-10', '2024-05-00', '0000-01-01', null]],
  [
    { kind: 'timestamp', precision: 6 },
    [
      '2024-01-01 00:00:00.000001',
      '0000-00-00 00:00:00.000000',
      '0000-01-01 00:00:00',
      null,
      '1999-12-31 23:59:59',
      '2000-01-01 00:00:00',
    ],
  ],
  [
    { kind: 'timestamptz', precision: 6 },
    [
      '1970-01-01 00:00:01.500000',
      '0000-00-00 00:00:00',
      null,
      '2038-01-19 03:14:07',
      '2001-02-03 04:05:06',
      '2001-02-03 04:05:06.1',
    ],
  ],
  [
    { kind: 'bytes' },
    [
      Buffer.from([0, 1, 0xfb, 0xff, 0x5c, 0x09]),
      Buffer.alloc(0),
      null,
      Buffer.from('ab'),
      Buffer.alloc(300, 7),
      Buffer.from([0x80]),
    ],
  ],
  [
    { kind: 'varbinary', length: 16 },
    [Buffer.from([0x0a]), null, Buffer.alloc(0), Buffer.from([0xc3, 0x28]), Buffer.from('x'), Buffer.from('\\')],
  ],
  [
    { kind: 'bit', length: 10 },
    [
      Buffer.from([0x02, 0x01]),
      null,
      Buffer.from([0, 0]),
      Buffer.from([3, 255]),
      Buffer.from([1, 0]),
      Buffer.from([0, 1]),
    ],
  ],
];

const types = COLUMNS.map(([type]) => type);
const schema: TableSchema = {
  id: tableId('db', 't'),
  columns: types.map((type, i) => ({ name: `c${i}`, type, nullable: true })),
  primaryKey: ['c0'],
};

/** Row i takes each column's (i mod n)-th text: every text of every column appears, in many combinations. */
function payloads(rows: number): Buffer[] {
  return Array.from({ length: rows }, (_, i) => rowPayload(COLUMNS.map(([, texts]) => texts[i % texts.length]!)));
}

function pack(packets: readonly Buffer[], expectedRows: number, expectedBytes?: number): PackedRows {
  const decoder = new TextRowDecoder(types);
  const packer = new TextRowPacker(types, decoder, expectedRows, expectedBytes);
  for (const packet of packets) {
    // Inside a larger buffer, as mysql2 hands packets over: the packer must copy, not keep, the bytes.
    const framed = Buffer.concat([Buffer.from([1, 2, 3]), packet, Buffer.from([4])]);
    packer.add(framed, 3, 3 + packet.length);
    framed.fill(0);
  }
  return packer.take();
}

function copyText(write: (out: CopyTextWriter) => void): string {
  const out = new CopyTextWriter();
  write(out);
  return Buffer.concat(out.take()).toString('latin1');
}

describe('TextRowPacker', () => {
  // 77 rows: not a multiple of any column's text count, and far past the arrays' first size (they double).
  const packets = payloads(77);
  const decoder = new TextRowDecoder(types);
  const decoded: Row[] = packets.map((p) => decoder.decode(p, 0, p.length));

  it('decodes every row exactly as the text decoder does, however the arrays grew', () => {
    for (const [expectedRows, expectedBytes] of [
      [1, 1],
      [77, 100_000],
      [16_384, undefined],
    ] as const) {
      const rows = pack(packets, expectedRows, expectedBytes);
      expect(rows.length).toBe(77);
      expect(rows.width).toBe(types.length);
      for (let i = 0; i < rows.length; i++) {
        expect(rows.row(i)).toEqual(decoded[i]);
        for (let c = 0; c < types.length; c++) expect(rows.field(i, c)).toEqual(decoded[i]![c]);
      }
    }
  });

  it('writes the COPY text the general path writes for the decoded rows, byte for byte', () => {
    const rows = pack(packets, 1, 1);
    const general = copyText((out) => {
      for (const row of decoded) {
        writeRowFields(out, row, schema, 'db.t');
        out.char(0x0a);
      }
    });
    const packed = copyText((out) => writePackedRows(out, rows, schema, 'db.t'));
    expect(packed.split('\n')).toEqual(general.split('\n'));
    // Slice by slice (as the sink writes a run, so that pieces go out between slices), a row between runs.
    const sliced = copyText((out) => {
      for (const read of sliceRuns([rows, decoded[0]!, rows], 10)) {
        if (Array.isArray(read)) {
          writeRowFields(out, read as Row, schema, 'db.t');
          out.char(0x0a);
        } else {
          const { packed: run, from, to } = read as PackedSlice;
          writePackedRows(out, run, schema, 'db.t', from, to);
        }
      }
    });
    const [first] = general.split('\n');
    expect(sliced).toBe(general + `${first}\n` + general);
  });

  it('marks for decoding exactly the fields whose text is not the canonical one', () => {
    const rows = pack(packets, 8);
    const marked = new Set<string>();
    for (let i = 0; i < rows.length; i++) {
      for (let c = 0; c < rows.width; c++) {
        if (rows.fields[(i * rows.width + c) * 2 + 1]! < -1) marked.add(`${c}:${i % COLUMNS[c]![1].length}`);
      }
    }
    const columnOf = (kind: string) => types.findIndex((t) => t.kind === kind);
    // ZEROFILL integers and YEAR 0000; zero dates; doubles in exponent form, 17 digits, zero, below 1e-5.
    for (const expected of [
      '0:3',
      '0:4',
      '1:3',
      '3:1',
      '12:1',
      '12:2',
      '12:3',
      '13:1',
      '5:1',
      '5:2',
      '5:3',
      '5:4',
      '5:7',
      '5:9',
    ]) {
      expect(marked).toContain(expected);
    }
    // Written as sent: plain integers, decimals, real dates, short fixed-notation doubles.
    for (const asSent of ['0:0', '0:1', '1:0', '4:0', '4:2', '12:0', '13:0', '5:0', '5:5', '5:6', '5:8']) {
      expect(marked).not.toContain(asSent);
    }
    // BOOLEAN, TIMESTAMP as timestamptz and BIT are decoded field by field.
    for (const kind of ['boolean', 'timestamptz', 'bit']) expect(rows.forms[columnOf(kind)]).toBe('decode');
  });

  it('refuses a NUL in text with the table and column named, as the general path does', () => {
    const nul = [rowPayload(COLUMNS.map(([type, texts]) => (type.kind === 'varchar' ? 'a\u0000b' : texts[0]!)))];
    const rows = pack(nul, 1);
    expect(() => copyText((out) => writePackedRows(out, rows, schema, 'db.t'))).toThrow(/db\.t\.c8: .*NUL/);
  });
});

describe('ChangeBuffer with packed reads', () => {
  const packets = payloads(20);
  const decoder = new TextRowDecoder(types);
  const decoded: Row[] = packets.map((p) => decoder.decode(p, 0, p.length));
  const createTable = { kind: 'schema', change: 'createTable', table: schema.id, schema, source: { tsMs: 0 } } as const;

  it('keeps a run of reads packed, counted by its rows', () => {
    const buffer = new ChangeBuffer();
    buffer.add([createTable]);
    buffer.drain();
    const rows = pack(packets, 4);
    buffer.add([{ kind: 'packed', table: schema.id, rows, source: { tsMs: 0 } }]);
    expect(buffer.pending()).toBe(20);
    const [step] = buffer.drain();
    if (step?.kind !== 'data') throw new Error('expected a data step');
    expect(step.changes.upsertCount).toBe(20);
    expect(step.changes.uncollapsedReads?.some((read) => !isRow(read))).toBe(true);
  });

  it('collapses packed reads with later changes of the same keys, as it does read events', () => {
    // Rows 0..19 of c0 = texts cycling over 6 values: keys repeat — the last state per key wins.
    const update = {
      kind: 'data',
      table: schema.id,
      op: 'update',
      before: decoded[1]!,
      after: [...decoded[1]!.slice(0, 8), 'changed', ...decoded[1]!.slice(9)],
      source: { tsMs: 1 },
    } as const;
    const packedBuffer = new ChangeBuffer();
    const eventBuffer = new ChangeBuffer();
    for (const buffer of [packedBuffer, eventBuffer]) {
      buffer.add([createTable]);
      buffer.drain();
    }
    const packedEvents = [
      { kind: 'packed', table: schema.id, rows: pack(packets, 4), source: { tsMs: 0 } } as const,
      update,
    ];
    packedBuffer.add(packedEvents);
    eventBuffer.add([...unpackEvents(packedEvents)]);
    const [a] = packedBuffer.drain();
    const [b] = eventBuffer.drain();
    if (a?.kind !== 'data' || b?.kind !== 'data') throw new Error('expected data steps');
    expect(a.changes.uncollapsedReads).toBeUndefined();
    expect([...a.changes.upserts.entries()]).toEqual([...b.changes.upserts.entries()]);
    expect(a.changes.upserts.size).toBeGreaterThan(0);
  });
});
