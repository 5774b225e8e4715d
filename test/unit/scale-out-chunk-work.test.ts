import { describe, expect, it } from 'vitest';
import {
  ChunkResultAssembler,
  decodeChunkItem,
  decodeChunkResultPart,
  encodeChunkItem,
  encodeChunkResult,
  type ChunkResult,
} from '../../src/scale-out/chunk-work.js';
import type { TributaryError } from '../../src/core/errors.js';

/** The messages of the parallel snapshot across machines: work items and results split under the max payload. */
describe('snapshot chunk work items and results', () => {
  const item = {
    server: '1',
    table: { schema: { id: { namespace: 'shop', name: 'orders' } }, charsets: [null] },
    lo: [41n, Buffer.from([0, 255])],
    hi: null,
  };

  it('an item keeps bigints, bytes and nulls', () => {
    const decoded = decodeChunkItem(encodeChunkItem({ id: 'run.1', item }));
    expect(decoded).toEqual({ id: 'run.1', item });
    expect((decoded.item as typeof item).lo[0]).toBe(41n);
    expect(Buffer.from((decoded.item as typeof item).lo[1] as Uint8Array)).toEqual(Buffer.from([0, 255]));
  });

  const rows = Array.from({ length: 3000 }, (_, i) => [BigInt(i) * 10_000_000_000n, `row ${i} é`, null, i % 2 === 0]);
  const result: ChunkResult = {
    ok: true,
    result: { low: { file: 'b.1', pos: 4 }, high: { file: 'b.1', pos: 9 }, rows },
  };

  it('a result larger than the maximum payload is split into parts that each fit, and assembled exactly', () => {
    const parts = encodeChunkResult('run.7', 'reader-a.1', result, 16 * 1024);
    expect(parts.length).toBeGreaterThan(3);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(16 * 1024);
    const assembler = new ChunkResultAssembler();
    const decoded = parts.map(decodeChunkResultPart).reverse(); // in any order
    const results = decoded.map((p) => assembler.add(p)).filter((r) => r !== undefined);
    expect(results).toEqual([result]);
    expect(assembler.incomplete).toBe(0);
  });

  it('two attempts at one item, interleaved and repeated: the first complete one is the result, once', () => {
    const first = encodeChunkResult('run.7', 'reader-a.1', result, 16 * 1024).map(decodeChunkResultPart);
    const second = encodeChunkResult('run.7', 'reader-b.2', result, 16 * 1024).map(decodeChunkResultPart);
    const assembler = new ChunkResultAssembler();
    // Reader a died after some parts; reader b read the item again; a part of b is delivered twice.
    const out = [...first.slice(0, 2), second[0]!, ...second].map((p) => assembler.add(p));
    expect(out.filter((r) => r !== undefined)).toEqual([result]);
    assembler.forget('run.7');
    expect(assembler.incomplete).toBe(0);
    // A late part of the dead reader's attempt starts nothing that completes.
    expect(assembler.add(first[2]!)).toBeUndefined();
  });

  it('an error result carries its code and hint', () => {
    const failed: ChunkResult = { ok: false, code: 'PIPELINE_STATE_MISMATCH', message: 'other server', hint: 'fix' };
    const [part] = encodeChunkResult('run.8', 'r.1', failed, 1024 * 1024);
    expect(new ChunkResultAssembler().add(decodeChunkResultPart(part!))).toEqual(failed);
  });

  it('a message of another program is STATE_CORRUPT, not a crash', () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return (error as TributaryError).code;
      }
      return 'no error';
    };
    expect(bad(() => decodeChunkItem(Buffer.from('hello')))).toBe('STATE_CORRUPT');
    expect(bad(() => decodeChunkItem(Buffer.from('{"v":2}')))).toBe('STATE_CORRUPT');
    expect(bad(() => decodeChunkResultPart(Buffer.from('{"id":"x"}\nabc')))).toBe('STATE_CORRUPT');
  });
});
