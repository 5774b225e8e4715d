import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Row } from '../../core/data-type.js';
import { TributaryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/table-schema.js';
import { COPY_NULL, CopyNulCharacterError, encodeCopyValue } from './postgres-copy-encoder.js';
import { CopyTextWriter } from './postgres-copy-writer.js';

/** COPY data is handed to the socket in pieces of about this many characters: few writes, bounded memory. */
const COPY_CHUNK_CHARS = 1 << 20;

/**
 * Runs `sql` (a `COPY … FROM STDIN` in text format) with `lines`, each ending in a newline. The lines are
 * produced lazily and sent in ~1 MB pieces, so only one piece is in memory at a time.
 */
export async function copyLines(client: pg.Client, sql: string, lines: Iterable<string>): Promise<void> {
  await pipeline(Readable.from(chunks(lines)), client.query(copyFrom(sql)));
}

/** Rows of one kind for {@link copyRows}, and how one of them is written as COPY text. */
export interface CopyRowSet<T> {
  readonly rows: Iterable<T>;
  /** Writes the row's line, newline included (see {@link writeRowFields}). */
  readonly append: (out: CopyTextWriter, row: T) => void;
}

/**
 * Runs `sql` (a `COPY … FROM STDIN` in text format) with the rows of each set in turn, sent in ~1 MB pieces as
 * {@link copyLines} does. Each row's fields are written as bytes straight into the piece being built
 * ({@link CopyTextWriter}), with no string per field, line or piece.
 */
export async function copyRows<T>(client: pg.Client, sql: string, sets: readonly CopyRowSet<T>[]): Promise<void> {
  await pipeline(Readable.from(rowChunks(sets)), client.query(copyFrom(sql)));
}

function* chunks(lines: Iterable<string>): Generator<Buffer> {
  let text = '';
  for (const line of lines) {
    text += line;
    if (text.length >= COPY_CHUNK_CHARS) {
      yield Buffer.from(text, 'utf8');
      text = '';
    }
  }
  if (text.length > 0) yield Buffer.from(text, 'utf8');
}

function* rowChunks<T>(sets: readonly CopyRowSet<T>[]): Generator<Buffer> {
  const out = new CopyTextWriter();
  for (const { rows, append } of sets) {
    for (const row of rows) {
      append(out, row);
      if (out.hasFullPiece()) yield* out.take();
    }
  }
  yield* out.take();
}

/**
 * The COPY fields of `row` (tab-separated, no leading tab), all columns of `schema` or, with `only`, just
 * those (the others NULL). A string with a NUL character fails with SINK_WRITE_FAILED naming the table
 * (`where`, as messages show it) and the column.
 */
export function copyRowFields(row: Row, schema: TableSchema, where: string, only?: readonly number[]): string {
  return appendRowFields('', row, schema, where, only);
}

/** `text` followed by {@link copyRowFields} of the row (no newline). */
export function appendRowFields(
  text: string,
  row: Row,
  schema: TableSchema,
  where: string,
  only?: readonly number[],
): string {
  const width = schema.columns.length;
  let i = 0;
  try {
    for (; i < width; i++) {
      if (i > 0) text += '\t';
      text += only === undefined || only.includes(i) ? encodeCopyValue(row[i] ?? null) : COPY_NULL;
    }
  } catch (error) {
    if (error instanceof CopyNulCharacterError) throw nulError(error, where, schema.columns[i]?.name ?? `#${i + 1}`);
    throw error;
  }
  return text;
}

/** Writes {@link copyRowFields} of the row (no newline) to `out`. */
export function writeRowFields(
  out: CopyTextWriter,
  row: Row,
  schema: TableSchema,
  where: string,
  only?: readonly number[],
): void {
  const width = schema.columns.length;
  let i = 0;
  try {
    for (; i < width; i++) {
      if (i > 0) out.char(TAB);
      if (only === undefined || only.includes(i)) out.value(row[i] ?? null);
      else out.ascii(COPY_NULL);
    }
  } catch (error) {
    if (error instanceof CopyNulCharacterError) throw nulError(error, where, schema.columns[i]?.name ?? `#${i + 1}`);
    throw error;
  }
}

const TAB = 0x09;

/** SINK_WRITE_FAILED (not retryable) for a NUL character in `where`.`column`. */
export function nulError(error: CopyNulCharacterError, where: string, column: string): TributaryError {
  return new TributaryError('SINK_WRITE_FAILED', `${where}.${column}: ${error.message}`, {
    hint: 'remove NUL characters at the source, or map the column to a binary type',
    retryable: false,
  });
}
