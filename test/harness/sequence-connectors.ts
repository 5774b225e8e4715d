/**
 * Two connectors written the way a library user writes one, outside the repository's `src/`: from the package
 * entry only (`src/index.ts`), with `defineConnector`. `sequence` is a source of `rows` numbered rows in one
 * table, then done; `collect` is a sink that keeps the rows (and its checkpoint) in memory, by its `bucket`.
 */
import {
  dataChange,
  defineConnector,
  tableId,
  type ChangeBatch,
  type ChangeEvent,
  type Checkpoint,
  type OptionSpec,
  type Sink,
  type Source,
  type SourcePosition,
  type TableSchema,
} from '../../src/index.js';

const sequenceOptions = [
  { key: 'table', type: 'string', default: 'demo.numbers', description: 'The table, as `namespace.name`.' },
  { key: 'rows', type: 'integer', default: 3, min: 0, description: 'How many rows to emit.' },
  { key: 'label', type: 'string', description: 'A text column written into every row; none without it.' },
] as const satisfies readonly OptionSpec[];

export const sequenceSource = defineConnector({
  kind: 'source',
  type: 'sequence',
  options: sequenceOptions,
  open: (options, context) => {
    // Typed from the specs: `rows` is a number and `table` a string, defaults filled in; `label` may be absent.
    const [namespace = '', name = ''] = options.table.split('.');
    const id = tableId(namespace, name);
    const schema: TableSchema = {
      id,
      columns: [
        { name: 'id', type: { kind: 'int64' }, nullable: false },
        { name: 'label', type: { kind: 'string' }, nullable: true },
      ],
      primaryKey: ['id'],
    };
    let from = 0;
    return {
      validate: () => Promise.resolve({ tables: [schema], checks: [`${options.rows} rows in ${options.table}`] }),
      open: (resume: SourcePosition | null) => {
        from = resume === null ? 0 : Number(resume['emitted']);
        context.log.info(`sequence: from row ${from} of ${options.rows}`);
        return Promise.resolve();
      },
      async *batches(): AsyncIterable<ChangeBatch> {
        const events: ChangeEvent[] = [
          { kind: 'schema', table: id, change: 'createTable', schema, source: { tsMs: 0 } },
        ];
        for (let i = from; i < options.rows; i++) {
          events.push(dataChange(id, 'insert', null, [BigInt(i + 1), options.label ?? null], { tsMs: 0 }));
        }
        await Promise.resolve();
        yield { events, position: { emitted: options.rows }, caughtUp: true };
      },
      progress: () => ({
        phase: 'done',
        snapshotTablesDone: 0,
        snapshotTablesTotal: 0,
        snapshotRowsRead: 0,
        logPosition: '',
        lagMs: 0,
      }),
      close: () => Promise.resolve(),
    } satisfies Source;
  },
});

/** What the `collect` sinks hold, by their `bucket` option: the committed rows by key, and the last checkpoint. */
export const collected = new Map<string, { rows: Map<string, readonly unknown[]>; checkpoint: Checkpoint | null }>();

const collectOptions = [
  { key: 'bucket', type: 'string', required: true, description: 'Where the rows go in `collected`.' },
] as const satisfies readonly OptionSpec[];

export const collectSink = defineConnector({
  kind: 'sink',
  type: 'collect',
  options: collectOptions,
  open: (options) => {
    const store = collected.get(options.bucket) ?? { rows: new Map(), checkpoint: null };
    collected.set(options.bucket, store);
    let pending: ChangeEvent[] = [];
    return {
      validate: () => Promise.resolve(),
      open: () => {
        pending = [];
        return Promise.resolve(store.checkpoint);
      },
      write: (events) => {
        pending.push(...events);
        return Promise.resolve();
      },
      pending: () => pending.length,
      commit: (checkpoint) => {
        for (const event of pending) {
          if (event.kind !== 'data') continue;
          const row = event.after ?? event.before!;
          const key = `${event.table.namespace}.${event.table.name}/${String(row[0])}`;
          if (event.after === null) store.rows.delete(key);
          else store.rows.set(key, event.after);
        }
        pending = [];
        store.checkpoint = checkpoint;
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    } satisfies Sink;
  },
});
