/**
 * A change's index in its transaction as the last part of `SourceInfo.position`: 10 digits, zero-padded,
 * so that text order is log order.
 *
 * Every binlog row gets a position, and `String(i).padStart(10, '0')` made three strings a row; the indexes
 * the transactions have reached so far (below 65,536: at most ~2 MB) are kept instead, so that a row's
 * position is one concatenation.
 */
const KEPT = 65_536;
const padded: string[] = [];

export function changeIndexText(index: number): string {
  if (index >= KEPT) return pad(index);
  while (padded.length <= index) padded.push(pad(padded.length));
  return padded[index]!;
}

function pad(index: number): string {
  return String(index).padStart(10, '0');
}
