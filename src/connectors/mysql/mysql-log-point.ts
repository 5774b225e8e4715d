/** A binlog file and byte position: an event boundary. */
export interface LogPoint {
  readonly file: string;
  readonly pos: number;
}

/**
 * Orders binlog positions: by file sequence number (`mysql-bin.000010` after `mysql-bin.000009`, also past
 * the six-digit rollover), then by position.
 */
export function compareLogPoints(a: LogPoint, b: LogPoint): number {
  if (a.file !== b.file) {
    const na = fileSequence(a.file);
    const nb = fileSequence(b.file);
    if (na !== nb) return na < nb ? -1 : 1;
    return a.file < b.file ? -1 : 1;
  }
  return a.pos - b.pos;
}

function fileSequence(file: string): number {
  const dot = file.lastIndexOf('.');
  const n = Number(file.slice(dot + 1));
  return Number.isFinite(n) ? n : -1;
}
