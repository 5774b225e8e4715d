import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../src/connectors/kafka/kafka-partitioner.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('Kafka default partitioner', () => {
  // The values of Apache Kafka's own test of Utils.murmur2:
  // clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2.
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('murmur2(%j) is %i, as the Java client computes it', (text, expected) => {
    expect(murmur2(bytes(text))).toBe(expected);
  });

  it('chooses toPositive(murmur2(key)) % partitions, so one key always lands on one partition', () => {
    // toPositive(-973932308) = -973932308 & 0x7fffffff = 1173551340; 1173551340 % 6 = 0.
    expect(partitionForKey(bytes('21'), 6)).toBe(1173551340 % 6);
    expect(partitionForKey(bytes('abc'), 7)).toBe(479470107 % 7);
    expect(partitionForKey(bytes('{"id":1}'), 1)).toBe(0);
    const partitions = new Set(Array.from({ length: 200 }, (_, i) => partitionForKey(bytes(`{"id":${i}}`), 8)));
    expect(partitions.size).toBe(8);
  });

  it('hashes bytes, not characters: a non-ASCII key is hashed as its UTF-8 bytes', () => {
    expect(murmur2(bytes('é'))).toBe(murmur2(new Uint8Array([0xc3, 0xa9])));
    expect(murmur2(bytes('é'))).not.toBe(murmur2(new Uint8Array([0xe9])));
  });
});
