/** A position in the binlog: a file name and a byte offset in it (an event boundary). */
export interface BinlogPosition {
  readonly file: string;
  readonly pos: number;
}

/**
 * Orders binlog positions: files by their numeric suffix (`mysql-bin.000010` after `mysql-bin.000009`, and
 * after the suffix grows a digit: `mysql-bin.1000000` after `mysql-bin.999999`), then by offset.
 * Files without a numeric suffix compare by name.
 */
export function compareBinlogPositions(a: BinlogPosition, b: BinlogPosition): number {
  const byFile = compareBinlogFiles(a.file, b.file);
  return byFile !== 0 ? byFile : a.pos - b.pos;
}

export function compareBinlogFiles(a: string, b: string): number {
  if (a === b) return 0;
  const ma = /^(.*?)(\d+)$/.exec(a);
  const mb = /^(.*?)(\d+)$/.exec(b);
  if (ma && mb && ma[1] === mb[1]) {
    const na = BigInt(ma[2]!);
    const nb = BigInt(mb[2]!);
    if (na !== nb) return na < nb ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `mysql-bin.000003:1234`. */
export function formatBinlogPosition(position: BinlogPosition): string {
  return `${position.file}:${position.pos}`;
}
