import { describe, expect, it } from 'vitest';
import {
  decodeDate,
  decodeDatetime2,
  decodeDatetimeOld,
  decodeTime2,
  decodeTimeOld,
  decodeTimestamp2,
  decodeTimestampOld,
  formatEpochSeconds,
  formatPackedTemporal,
} from '../../src/connectors/mysql/protocol/temporal.js';

/** Big-endian bytes of a non-negative integer (< 2^53). */
function be(value: number, bytes: number): number[] {
  const out: number[] = [];
  let v = value;
  for (let i = 0; i < bytes; i++) {
    out.unshift(v % 256);
    v = Math.floor(v / 256);
  }
  return out;
}

/** The fraction as the server stores it for `fsp` digits (DATETIME2/TIMESTAMP2/TIME2 non-negative). */
function fraction(micros: number, fsp: number): number[] {
  if (fsp === 0) return [];
  if (fsp <= 2) return be(Math.floor(micros / 10000), 1);
  if (fsp <= 4) return be(Math.floor(micros / 100), 2);
  return be(micros, 3);
}

function datetime2(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  micros: number,
  fsp: number,
): Buffer {
  const ymd = (y * 13 + mo) * 32 + d;
  const hms = (h << 12) | (mi << 6) | s;
  return Buffer.from([...be(ymd * 2 ** 17 + hms + 2 ** 39, 5), ...fraction(micros, fsp)]);
}

/** TIME2 as my_time_packed_to_binary writes it, C integer semantics included. */
function time2(negative: boolean, h: number, mi: number, s: number, micros: number, fsp: number): Buffer {
  const hms = (h << 12) | (mi << 6) | s;
  const magnitude = hms * 2 ** 24 + micros;
  const packed = negative ? -magnitude : magnitude;
  const intPart = Math.floor(packed / 2 ** 24); // >> 24 (arithmetic)
  const fracPart = packed - Math.trunc(packed / 2 ** 24) * 2 ** 24; // % (truncating)
  if (fsp === 0) return Buffer.from(be(intPart + 0x800000, 3));
  if (fsp <= 2) return Buffer.from([...be(intPart + 0x800000, 3), (Math.trunc(fracPart / 10000) + 256) % 256]);
  if (fsp <= 4)
    return Buffer.from([...be(intPart + 0x800000, 3), ...be((Math.trunc(fracPart / 100) + 65536) % 65536, 2)]);
  return Buffer.from(be(packed + 0x800000000000, 6));
}

describe('DATETIME2', () => {
  it.each([0, 1, 2, 3, 4, 5, 6])('keeps exactly fsp=%i fraction digits', (fsp) => {
    const expected = ['', '.1', '.12', '.123', '.1234', '.12345', '.123456'][fsp];
    expect(decodeDatetime2(datetime2(2024, 2, 29, 12, 34, 56, 123456, fsp), 0, fsp, '')).toBe(
      `2024-02-29 12:34:56${expected}`,
    );
  });

  it('pads small years and fractions, and decodes the range ends', () => {
    expect(decodeDatetime2(datetime2(5, 1, 2, 3, 4, 5, 7, 6), 0, 6, '')).toBe('0005-01-02 03:04:05.000007');
    expect(decodeDatetime2(datetime2(1000, 1, 1, 0, 0, 0, 0, 0), 0, 0, '')).toBe('1000-01-01 00:00:00');
    expect(decodeDatetime2(datetime2(9999, 12, 31, 23, 59, 59, 999999, 6), 0, 6, '')).toBe(
      '9999-12-31 23:59:59.999999',
    );
    expect(decodeDatetime2(datetime2(2020, 1, 2, 3, 4, 5, 0, 3), 0, 3, 'Z')).toBe('2020-01-02 03:04:05.000Z');
  });

  it('turns zero and partly zero dates into null', () => {
    expect(decodeDatetime2(datetime2(0, 0, 0, 0, 0, 0, 0, 0), 0, 0, '')).toBeNull();
    expect(decodeDatetime2(datetime2(2020, 0, 10, 0, 0, 0, 0, 0), 0, 0, '')).toBeNull();
    expect(decodeDatetime2(datetime2(2020, 5, 0, 0, 0, 0, 0, 0), 0, 0, '')).toBeNull();
  });
});

describe('TIMESTAMP2', () => {
  it.each([0, 1, 2, 3, 4, 5, 6])('is UTC with fsp=%i fraction digits', (fsp) => {
    const seconds = Date.UTC(2038, 0, 19, 3, 14, 7) / 1000;
    const buf = Buffer.from([...be(seconds, 4), ...fraction(654321, fsp)]);
    const expected = ['', '.6', '.65', '.654', '.6543', '.65432', '.654321'][fsp];
    expect(decodeTimestamp2(buf, 0, fsp, 'Z')).toBe(`2038-01-19 03:14:07${expected}Z`);
  });

  it('decodes the zero timestamp as null and the first second of 1970', () => {
    expect(decodeTimestamp2(Buffer.from([0, 0, 0, 0]), 0, 0, 'Z')).toBeNull();
    expect(decodeTimestamp2(Buffer.from([0, 0, 0, 1, 0, 0, 0]), 0, 6, 'Z')).toBe('1970-01-01 00:00:01.000000Z');
  });

  it('agrees with Date over many instants', () => {
    for (let s = 0; s < 4_294_967_295; s += 7_919_993) {
      const iso = new Date(s * 1000).toISOString();
      expect(formatEpochSeconds(s, 0, 0, 'Z')).toBe(`${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`);
    }
  });
});

describe('TIME2', () => {
  it.each([0, 1, 2, 3, 4, 5, 6])('decodes positive and negative values with fsp=%i', (fsp) => {
    const digits = ['', '.5', '.50', '.500', '.5000', '.50000', '.500000'][fsp]!;
    const micros = fsp === 0 ? 0 : 500000; // the server rounds to the column's precision before storing
    expect(decodeTime2(time2(false, 12, 34, 56, micros, fsp), 0, fsp)).toBe(`12:34:56${digits}`);
    expect(decodeTime2(time2(true, 12, 34, 56, micros, fsp), 0, fsp)).toBe(`-12:34:56${digits}`);
    expect(decodeTime2(time2(true, 0, 0, 0, micros, fsp), 0, fsp)).toBe(fsp === 0 ? '00:00:00' : `-00:00:00${digits}`);
  });

  it('decodes the TIME range ends, hours beyond 24 included', () => {
    expect(decodeTime2(time2(false, 838, 59, 59, 0, 0), 0, 0)).toBe('838:59:59');
    expect(decodeTime2(time2(true, 838, 59, 59, 0, 0), 0, 0)).toBe('-838:59:59');
    expect(decodeTime2(time2(false, 838, 59, 59, 0, 6), 0, 6)).toBe('838:59:59.000000');
    expect(decodeTime2(time2(true, 838, 59, 58, 990000, 2), 0, 2)).toBe('-838:59:58.99');
    expect(decodeTime2(time2(true, 1, 0, 0, 1, 6), 0, 6)).toBe('-01:00:00.000001');
    expect(decodeTime2(time2(true, 0, 0, 1, 10000, 2), 0, 2)).toBe('-00:00:01.01');
    expect(decodeTime2(time2(true, 0, 0, 1, 100, 4), 0, 4)).toBe('-00:00:01.0001');
    expect(decodeTime2(time2(false, 0, 0, 0, 0, 0), 0, 0)).toBe('00:00:00');
  });
});

describe('DATE and the pre-5.6 temporal formats', () => {
  it('decodes DATE and turns zero dates into null', () => {
    const date = (y: number, m: number, d: number): Buffer => {
      const v = y * 512 + m * 32 + d;
      return Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
    };
    expect(decodeDate(date(2024, 2, 29), 0)).toBe('2024-02-29');
    expect(decodeDate(date(1, 1, 1), 0)).toBe('0001-01-01');
    expect(decodeDate(date(9999, 12, 31), 0)).toBe('9999-12-31');
    expect(decodeDate(date(0, 0, 0), 0)).toBeNull();
    expect(decodeDate(date(2020, 0, 10), 0)).toBeNull();
  });

  it('decodes old DATETIME, TIME and TIMESTAMP', () => {
    const dt = Buffer.alloc(8);
    dt.writeBigUInt64LE(20240229123456n);
    expect(decodeDatetimeOld(dt, 0, '')).toBe('2024-02-29 12:34:56');
    expect(decodeDatetimeOld(Buffer.alloc(8), 0, '')).toBeNull();
    const time = (v: number): Buffer => {
      const b = Buffer.alloc(3);
      b.writeIntLE(v, 0, 3);
      return b;
    };
    expect(decodeTimeOld(time(1234), 0)).toBe('00:12:34');
    expect(decodeTimeOld(time(-8385959), 0)).toBe('-838:59:59');
    const ts = Buffer.alloc(4);
    ts.writeUInt32LE(86400);
    expect(decodeTimestampOld(ts, 0, 'Z')).toBe('1970-01-02 00:00:00Z');
    expect(decodeTimestampOld(Buffer.alloc(4), 0, 'Z')).toBeNull();
  });

  it('decodes the packed form of binary JSON', () => {
    const ymd = (2015 * 13 + 1) * 32 + 15;
    const hms = (23 << 12) | (24 << 6) | 25;
    const packed = ((BigInt(ymd) << 17n) | BigInt(hms)) << 24n;
    expect(formatPackedTemporal(packed + 500n, 'datetime')).toBe('2015-01-15 23:24:25.000500');
    expect(formatPackedTemporal(BigInt(ymd) << 41n, 'date')).toBe('2015-01-15');
    expect(formatPackedTemporal(-((BigInt((1 << 12) | (2 << 6) | 3) << 24n) + 7n), 'time')).toBe('-01:02:03.000007');
  });
});
