/**
 * MySQL GTID sets (`uuid:1-5:7,uuid2:1-3`): parsed, extended by one GTID, compared, and encoded as
 * COM_BINLOG_DUMP_GTID carries them. Pure; MariaDB's GTID positions are in ../mysql-gtid.ts.
 */

/** Per source uuid (lower case), its intervals [start, end] (inclusive), sorted and disjoint. */
export type MysqlGtidSet = ReadonlyMap<string, readonly (readonly [bigint, bigint])[]>;

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Parses `uuid:1-5:7,uuid2:1-3` (whitespace and newlines as MySQL prints them allowed); throws on bad text. */
export function parseMysqlGtidSet(text: string): MysqlGtidSet {
  const set = new Map<string, [bigint, bigint][]>();
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const [uuid, ...ranges] = part.split(':').map((p) => p.trim());
    if (uuid === undefined || !UUID.test(uuid) || ranges.length === 0) {
      throw new Error(`'${part}' is not a GTID set entry (uuid:1-5:7)`);
    }
    const key = normalizeUuid(uuid);
    const intervals = set.get(key) ?? [];
    for (const range of ranges) {
      const match = /^(\d+)(?:-(\d+))?$/.exec(range);
      if (!match) throw new Error(`'${range}' in '${part}' is not a GTID interval (n or n-m)`);
      const start = BigInt(match[1]!);
      const end = match[2] === undefined ? start : BigInt(match[2]);
      if (start < 1n || end < start) throw new Error(`'${range}' in '${part}' is not a GTID interval (1 ≤ n ≤ m)`);
      intervals.push([start, end]);
    }
    set.set(key, intervals);
  }
  const normalized = new Map<string, (readonly [bigint, bigint])[]>();
  for (const [uuid, intervals] of set) normalized.set(uuid, mergeIntervals(intervals));
  return normalized;
}

/** `uuid:1-5:7,uuid2:1-3`, uuids in sorted order. */
export function formatMysqlGtidSet(set: MysqlGtidSet): string {
  return [...set.keys()]
    .sort()
    .map(
      (uuid) =>
        uuid +
        set
          .get(uuid)!
          .map(([a, b]) => (a === b ? `:${a}` : `:${a}-${b}`))
          .join(''),
    )
    .join(',');
}

/** The set with GTID `uuid:gno` added. */
export function addMysqlGtid(set: MysqlGtidSet, uuid: string, gno: bigint): MysqlGtidSet {
  const key = normalizeUuid(uuid);
  const next = new Map(set);
  next.set(key, mergeIntervals([...(set.get(key) ?? []), [gno, gno]]));
  return next;
}

/** The GTIDs of `want` that `have` lacks, as a set (empty: `have` contains `want`). */
export function missingMysqlGtids(have: MysqlGtidSet, want: MysqlGtidSet): MysqlGtidSet {
  const missing = new Map<string, (readonly [bigint, bigint])[]>();
  for (const [uuid, intervals] of want) {
    const own = have.get(uuid) ?? [];
    const gaps: [bigint, bigint][] = [];
    for (const [start, end] of intervals) {
      let from = start;
      for (const [a, b] of own) {
        if (b < from || a > end) continue;
        if (a > from) gaps.push([from, a - 1n]);
        from = b + 1n;
        if (from > end) break;
      }
      if (from <= end) gaps.push([from, end]);
    }
    if (gaps.length > 0) missing.set(uuid, gaps);
  }
  return missing;
}

/**
 * The set as COM_BINLOG_DUMP_GTID's data carries it: the number of uuids (8 bytes), then per uuid its 16 bytes,
 * the number of intervals (8 bytes) and each interval as start and end-exclusive (8 bytes each), little-endian.
 */
export function encodeMysqlGtidSet(set: MysqlGtidSet): Buffer {
  const uuids = [...set.keys()].sort();
  let size = 8;
  for (const uuid of uuids) size += 16 + 8 + 16 * set.get(uuid)!.length;
  const out = Buffer.alloc(size);
  let p = out.writeBigUInt64LE(BigInt(uuids.length), 0);
  for (const uuid of uuids) {
    p += Buffer.from(uuid.replace(/-/g, ''), 'hex').copy(out, p);
    const intervals = set.get(uuid)!;
    p = out.writeBigUInt64LE(BigInt(intervals.length), p);
    for (const [start, end] of intervals) {
      p = out.writeBigUInt64LE(start, p);
      p = out.writeBigUInt64LE(end + 1n, p);
    }
  }
  return out;
}

function normalizeUuid(uuid: string): string {
  const hex = uuid.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function mergeIntervals(intervals: readonly (readonly [bigint, bigint])[]): (readonly [bigint, bigint])[] {
  const sorted = [...intervals].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const merged: [bigint, bigint][] = [];
  for (const [start, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && start <= last[1] + 1n) {
      if (end > last[1]) last[1] = end;
    } else merged.push([start, end]);
  }
  return merged;
}
