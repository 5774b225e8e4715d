import { parsePipelineYaml } from '../config/load-pipeline.js';
import { parseTableSelectors } from '../core/table-selector.js';
import { tableId } from '../core/table-schema.js';
import { unpackEvents } from '../core/packed-rows.js';
import { knownTypes, optionSpecsFor, sources } from '../connectors/registry.js';
import type { Logger } from '../runtime/logger.js';
import type { Delta } from '../sql/exec/changelog.js';
import type { Field } from '../sql/exec/nodes.js';
import { planSelect, type QueryPlan } from '../sql/planner.js';
import type { QueryStatement } from '../sql/sql-ast.js';
import { SqlOperator } from '../sql/sql-operator.js';
import { anchored, scanPatterns, sourceBlock, type SqlSession } from './sql-job.js';

/** A live SELECT, planned: its columns and the keys its rows are unique on, ready to run. */
export interface LiveQuery {
  readonly fields: readonly Field[];
  readonly uniqueKeys: readonly (readonly number[])[];
  readonly explain: string;
  /**
   * Reads the source tables from a fresh snapshot on and passes the result's changes (rows added and taken back,
   * per source batch) to `onChanges`, until `signal` aborts. Nothing is checkpointed: a live result starts over
   * each time, as Flink's client does.
   */
  run(options: LiveRunOptions): Promise<void>;
}

export interface LiveRunOptions {
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly onChanges: (changes: readonly Delta[]) => void;
}

/** Plans `SELECT …` on the session's tables for the interactive client. Throws SQL_INVALID. */
export function prepareLiveQuery(current: SqlSession, statement: QueryStatement): LiveQuery {
  const session = current.snapshot();
  const { text } = session;
  const plan = () => planSelect(text, statement.query, session.tables, session.planOptions());
  const first = plan();
  const scanTables = [...new Set(first.scans.map((scan) => session.tables.get(scan.table.toLowerCase())!))];
  const block = sourceBlock(text, scanTables);
  // The pipeline loader checks and completes the source options; a live query has no sink, so a placeholder
  // sink block satisfies the loader and is never opened.
  const yaml = JSON.stringify(
    { source: block, sink: { type: 'duckdb', path: ':memory:' }, pipeline: { name: 'sql-live' } },
    (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('${', '$${') : value),
  );
  const def = parsePipelineYaml(yaml, { file: '<sql>', optionSpecsFor, knownTypes, env: {} });
  return {
    fields: first.root.fields,
    uniqueKeys: first.root.uniqueKeys,
    explain: first.explain,
    run: async ({ log, signal, onChanges }) => {
      const entry = sources[def.source.type]!;
      const source = (await entry.load())(def.source.options, {
        log: log.child('source'),
        pipelineName: def.pipeline.name,
        parallelism: def.pipeline.parallelism,
        include: parseTableSelectors(String(def.source.options[entry.tablesOption] ?? '')),
        exclude: [],
      });
      const p: QueryPlan = plan();
      const operator = new SqlOperator(
        [
          {
            plan: p,
            sources: p.scans.map((scan) => {
              const table = session.tables.get(scan.table.toLowerCase())!;
              return {
                scan,
                database: anchored(scanPatterns(table).namespace),
                table: anchored(scanPatterns(table).name),
              };
            }),
            sinkSchema: {
              id: tableId('', 'result'),
              columns: p.root.fields.map((f) => ({ name: f.name, type: f.type, nullable: f.nullable })),
              primaryKey: [],
            },
          },
        ],
        session.timeZone,
      );
      const aborted = new Promise<'aborted'>((resolve) => {
        if (signal.aborted) resolve('aborted');
        signal.addEventListener('abort', () => resolve('aborted'), { once: true });
      });
      try {
        await source.validate();
        await source.open(null);
        const batches = source.batches()[Symbol.asyncIterator]();
        try {
          for (;;) {
            const next = await Promise.race([batches.next(), aborted]);
            if (next === 'aborted' || next.done === true) return;
            const changes: Delta[] = [];
            for (const event of operator.process(unpackEvents(next.value.events))) {
              if (event.kind !== 'data') continue;
              changes.push(event.op === 'delete' ? { sign: -1, row: event.before! } : { sign: 1, row: event.after! });
            }
            if (changes.length > 0) onChanges(changes);
          }
        } finally {
          void batches.return?.();
        }
      } finally {
        await source.close().catch(() => undefined);
      }
    },
  };
}
