import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { decodePgoutput, streamedMessageXid } from '../../src/connectors/postgres-source/pgoutput-decoder.js';
import { StreamedTransactions } from '../../src/connectors/postgres-source/postgres-stream-buffer.js';

const message = (text: string) => Buffer.from(text);

async function collect(messages: AsyncIterable<Buffer>): Promise<string[]> {
  const out: string[] = [];
  for await (const m of messages) out.push(m.toString());
  return out;
}

const spillDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith('tributary-pg-stream-'));

/** Issue 13: pgoutput protocol 2 — the blocks of large transactions in progress, kept until their commit. */
describe('StreamedTransactions', () => {
  it('replays a committed transaction in order across memory and its spill file, without rolled-back subtransactions', async () => {
    const before = new Set(spillDirs());
    const buffer = new StreamedTransactions(40); // bytes: the first few messages fit, the rest spill
    for (let i = 0; i < 20; i++) {
      buffer.add(700, i % 5 === 4 ? 701 : 700, message(`a${String(i).padStart(2, '0')}-${'x'.repeat(i)}`));
      buffer.add(800, 800, message(`b${i}`)); // another transaction, interleaved block by block
    }
    expect(buffer.stats).toEqual({ open: 2, spilled: 2 });
    buffer.abort(700, 701); // a subtransaction rolled back: its messages (every fifth) go
    const a = await collect(buffer.commit(700));
    expect(a).toEqual(
      Array.from({ length: 20 }, (_, i) => i)
        .filter((i) => i % 5 !== 4)
        .map((i) => `a${String(i).padStart(2, '0')}-${'x'.repeat(i)}`),
    );
    expect(buffer.stats.open).toBe(1);
    buffer.abort(800, 800); // the whole other transaction rolled back
    expect(await collect(buffer.commit(800))).toEqual([]);
    buffer.close();
    expect(spillDirs().filter((d) => !before.has(d))).toEqual([]);
  });

  it('keeps large messages whole through the spill file', async () => {
    const buffer = new StreamedTransactions(0);
    const big = 'y'.repeat(3 << 20); // larger than the 1 MiB read block
    buffer.add(5, 5, message(big));
    buffer.add(5, 5, message('tail'));
    const out = await collect(buffer.commit(5));
    expect(out.map((m) => m.length)).toEqual([big.length, 4]);
    expect(out[1]).toBe('tail');
    buffer.close();
  });
});

describe('pgoutput protocol 2 messages', () => {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const u64 = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n);
    return b;
  };

  it('decodes stream start, stop, commit and abort, and a data message with its transaction id', () => {
    expect(decodePgoutput(Buffer.concat([message('S'), u32(42), Buffer.from([1])]))).toEqual({
      tag: 'stream-start',
      xid: 42,
      first: true,
    });
    expect(decodePgoutput(message('E'))).toEqual({ tag: 'stream-stop' });
    const commit = decodePgoutput(
      Buffer.concat([message('c'), u32(42), Buffer.from([0]), u64(0x1000n), u64(0x1080n), u64(0n)]),
    );
    expect(commit).toMatchObject({ tag: 'stream-commit', xid: 42, commitLsn: 0x1000n, endLsn: 0x1080n });
    expect(decodePgoutput(Buffer.concat([message('A'), u32(42), u32(43)]))).toEqual({
      tag: 'stream-abort',
      xid: 42,
      subxid: 43,
    });
    // Insert into relation 16384 by subtransaction 43: ('1', NULL).
    const insert = Buffer.concat([
      message('I'),
      u32(43),
      u32(16384),
      message('N'),
      Buffer.from([0, 2]),
      message('t'),
      u32(1),
      message('1'),
      message('n'),
    ]);
    expect(streamedMessageXid(insert)).toBe(43);
    expect(decodePgoutput(insert, true)).toEqual({ tag: 'insert', relation: 16384, after: ['1', null] });
    expect(streamedMessageXid(message('E'))).toBeUndefined();
  });
});
