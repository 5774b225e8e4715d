/**
 * PostgreSQL log sequence numbers (`16/B374D848`): 64-bit WAL positions, kept as bigint in code and as the
 * server's `X/Y` text in positions and messages.
 */
export type Lsn = bigint;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(text: string): Lsn {
  const match = LSN_TEXT.exec(text.trim());
  if (!match) throw new Error(`not an LSN: ${text}`);
  return (BigInt(`0x${match[1]!}`) << 32n) | BigInt(`0x${match[2]!}`);
}

export function isLsnText(text: unknown): text is string {
  return typeof text === 'string' && LSN_TEXT.test(text);
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC). */
const PG_EPOCH_US = 946_684_800_000_000n;

/** A PostgreSQL timestamp (µs since 2000-01-01) as milliseconds since the Unix epoch. */
export function pgTimestampToMs(us: bigint): number {
  return Number((us + PG_EPOCH_US) / 1000n);
}

/** Now as a PostgreSQL timestamp (µs since 2000-01-01), for standby status updates. */
export function pgTimestampNow(): bigint {
  return BigInt(Date.now()) * 1000n - PG_EPOCH_US;
}
