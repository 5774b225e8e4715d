import type { TableId } from '../../core/table-schema.js';

/**
 * Subjects of a pipeline's stream. Data: `<prefix>.<db>.<table>` (Debezium's topic naming), or
 * `<prefix>.<db>.<table>.<partition>` with `partitions` > 1, the partition chosen by a hash of the key, so one
 * key always lands on one subject and keeps its order. Control (two tokens, so a `<prefix>.*.*` subscriber never
 * sees them): `<prefix>._tributary_fence` and `<prefix>._tributary_checkpoint`.
 */
export interface StreamSubjects {
  readonly all: string;
  readonly fence: string;
  readonly checkpoint: string;
  data(table: TableId, key: string | null): string;
}

export function streamSubjects(prefix: string, partitions: number): StreamSubjects {
  return {
    all: `${prefix}.>`,
    fence: `${prefix}._tributary_fence`,
    checkpoint: `${prefix}._tributary_checkpoint`,
    data(table, key) {
      const base = `${prefix}.${subjectToken(table.namespace)}.${subjectToken(table.name)}`;
      return partitions > 1 ? `${base}.${keyPartition(key, partitions)}` : base;
    },
  };
}

/**
 * A name as one subject token: letters, digits and `_` stay, every other byte is `%XX` (so `.`, `*`, `>` and
 * spaces cannot split or widen a subject); the empty name is `-`.
 */
export function subjectToken(name: string): string {
  if (name === '') return '-';
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of {@link subjectToken}. */
export function subjectTokenName(token: string): string {
  if (token === '-') return '';
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '%') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(token.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** FNV-1a (32 bit) of the key's JSON text, modulo `partitions`; a keyless row goes to partition 0. */
export function keyPartition(key: string | null, partitions: number): number {
  if (key === null) return 0;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** A stream name from a pipeline name: JetStream forbids `.`, `*`, `>`, `/`, `\` and whitespace. */
export function defaultStreamName(pipeline: string): string {
  return `tributary_${pipeline.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}
