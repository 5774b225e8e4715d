import type { ChangeEvent, DataChangeEvent } from '../../core/change-event.js';
import { TributaryError } from '../../core/errors.js';
import type pg from 'pg';
import type { ChangelogTable, PostgresChangelogTables } from './postgres-changelog-tables.js';
import { COPY_NULL, encodeCopyValue } from './postgres-copy-encoder.js';
import { copyLines, copyRowFields } from './postgres-copy-stream.js';
import { displayName, qualifiedName, quoteIdent } from './postgres-ddl.js';
import type { PostgresModeWriter } from './postgres-mode-writer.js';
import { rowJson } from './postgres-row-json.js';
import { SchemaTracker } from '../sink-kit/schema-tracker.js';
import { writeInRuns, type TableRun } from './postgres-table-runs.js';

/**
 * Write mode `append`: every change becomes one row of its table's changelog (`<table><suffix>`), COPYed
 * straight into it as it arrives, inside the open transaction; the commit adds the checkpoint row, which also
 * holds the last `_seq` handed out. So each change is recorded exactly once: after a crash the rows of the
 * unfinished commit are gone with its transaction and are written again on replay; a `_position` that is
 * already there (a bug, or a changelog written by another pipeline) fails the commit on the table's unique
 * index instead of being recorded twice.
 */
export class PostgresAppendWriter implements PostgresModeWriter {
  private readonly schemas = new SchemaTracker();
  /** The last `_seq` handed out in this session. */
  private seq = 0;
  currentTable: string | undefined;

  constructor(
    private readonly client: pg.Client,
    private readonly changelogs: PostgresChangelogTables,
  ) {}

  /** Continues numbering after `lastSeq` (from the checkpoint row); changelogs with higher numbers raise it. */
  start(lastSeq: number): void {
    this.seq = lastSeq;
  }

  /** The last `_seq` handed out: committed with the checkpoint. */
  get lastSeq(): number {
    return this.seq;
  }

  async write(events: readonly ChangeEvent[]): Promise<void> {
    await writeInRuns(events, this.schemas, () => ++this.seq, {
      run: (run) => this.append(run),
      schema: async (event, previous) => {
        this.currentTable = displayName(this.changelogs.nameOf(event.table));
        const table = await this.changelogs.apply(event, previous);
        // A table's schema event precedes its rows, so its changelog is checked before any of them is numbered.
        if (table !== undefined) this.seq = Math.max(this.seq, table.maxSeq);
      },
    });
    this.currentTable = undefined;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  rollback(): void {
    this.changelogs.forgetAll();
  }

  restart(): void {
    this.changelogs.forgetAll();
    this.schemas.clear();
  }

  private async append(run: TableRun): Promise<void> {
    const table = await this.changelogs.target(run.schema);
    const where = displayName(table.name);
    this.currentTable = where;
    const columns = ['_op', '_position', '_seq', '_commit_ts', ...run.schema.columns.map((c) => c.name), '_before'];
    const sql = `COPY ${qualifiedName(table.name)} (${columns.map(quoteIdent).join(', ')}) FROM STDIN`;
    const lines = function* (): Generator<string> {
      for (let i = 0; i < run.events.length; i++) yield changelogLine(run.events[i]!, run.seqs[i]!, run, where);
    };
    try {
      await copyLines(this.client, sql, lines());
    } catch (error) {
      throw duplicateError(error, table) ?? error;
    }
  }
}

/**
 * One changelog row: `_op`, `_position`, `_seq`, `_commit_ts` (NULL for snapshot reads, which have no commit
 * time), the row image (the after image; for a delete the row that was deleted), `_before` (an update's before
 * image as JSON, else NULL). `_ingest_ts` takes its default, now().
 */
function changelogLine(event: DataChangeEvent, seq: number, run: TableRun, where: string): string {
  const image = event.op === 'delete' ? event.before : event.after;
  const position = event.source.position === undefined ? COPY_NULL : encodeCopyValue(event.source.position);
  const committed = event.source.tsMs > 0 ? new Date(event.source.tsMs).toISOString() : COPY_NULL;
  const fields =
    image === null ? run.schema.columns.map(() => COPY_NULL).join('\t') : copyRowFields(image, run.schema, where);
  const before =
    event.op === 'update' && event.before !== null ? encodeCopyValue(rowJson(event.before, run.schema)) : COPY_NULL;
  return `${event.op}\t${position}\t${seq}\t${committed}\t${fields}\t${before}\n`;
}

/** A unique violation of the `_position` index, as the clear error it is; undefined for any other error. */
function duplicateError(error: unknown, table: ChangelogTable): TributaryError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, constraint, detail } = error as { code?: unknown; constraint?: unknown; detail?: unknown };
  if (code !== '23505' || constraint !== table.positionIndex) return undefined;
  return new TributaryError(
    'SINK_WRITE_FAILED',
    `${displayName(table.name)}: a change whose source position is already in the changelog was about to be recorded again (${typeof detail === 'string' ? detail : 'duplicate _position'}); the commit was rolled back`,
    {
      hint: 'the changelog holds changes that its checkpoint does not cover: another pipeline writes to the same changelog, or rows were copied in by hand. Give each pipeline its own changelog tables (sink option `append.table-suffix`), or remove the rows after the checkpoint position',
      retryable: false,
      // Code and detail only: driver errors may carry connection parameters.
      cause: Object.assign(new Error(typeof detail === 'string' ? detail : 'duplicate _position'), { code }),
    },
  );
}
