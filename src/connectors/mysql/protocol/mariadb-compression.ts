import { inflateSync } from 'node:zlib';

/**
 * Inflates a MariaDB compressed binlog payload (QUERY_COMPRESSED, *_ROWS_COMPRESSED events,
 * `log_bin_compress=ON`): a header byte (0x80 set; bits 4–6 the algorithm, 0 = zlib; bits 0–2 the number of
 * bytes of the uncompressed length), that length big-endian, then the zlib stream.
 */
export function inflateMariadbPayload(buf: Buffer, start: number, end: number): Buffer {
  const header = buf[start];
  if (header === undefined || (header & 0x80) === 0) throw new RangeError('compressed payload without its header');
  const algorithm = (header & 0x70) >> 4;
  if (algorithm !== 0) throw new RangeError(`unknown binlog compression algorithm ${algorithm}`);
  const lengthBytes = header & 0x07;
  if (lengthBytes < 1 || lengthBytes > 4 || start + 1 + lengthBytes > end) {
    throw new RangeError(`invalid compressed length size ${lengthBytes}`);
  }
  const length = buf.readUIntBE(start + 1, lengthBytes);
  const inflated = inflateSync(buf.subarray(start + 1 + lengthBytes, end), { maxOutputLength: Math.max(length, 1) });
  if (inflated.length !== length) {
    throw new RangeError(`compressed payload inflated to ${inflated.length} bytes, expected ${length}`);
  }
  return inflated;
}
