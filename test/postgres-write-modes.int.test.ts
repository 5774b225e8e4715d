import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  runMysqlScript,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startTestPipeline, type RunningPipeline, type TestPipelineOptions } from './harness/pipelines.js';
import { testTempDir } from './harness/temp-dirs.js';

const scenario = new URL('../fixtures/scenarios/student/', import.meta.url);

/** The scenario's SQL on a database of its own (the files name `testdb`). */
async function scenarioSql(file: string, db: string): Promise<string> {
  return (await readFile(new URL(file, scenario), 'utf8')).replaceAll('testdb', db);
}

const initial = [
  [1, 'student1', 65, '1'],
  [2, 'student2', 75, '0'],
  [3, 'student3', 85, '1'],
  [4, 'student4', 95, '0'],
];
const final = [
  [1, 'student1', 65, '1'],
  [2, 'student2', 75, '1'],
  [3, 'student3', null, null],
  [4, 'student4', null, null],
  [6, 'student6', 60, '0'],
];

/**
 * One mode's run of the student scenario (fixtures/scenarios/student, PieCloudDB's merge-mode demo) through
 * the mysql source: its own MariaDB database and PostgreSQL database, the pipeline started in `beforeAll`.
 */
function studentPipeline(mode: 'upsert' | 'merge' | 'append') {
  const db = uniqueName(`student_${mode}`);
  const state: { sink?: FreshPostgresDatabase; options?: TestPipelineOptions; running?: RunningPipeline } = {};

  const rows = async (table: string, extra = ''): Promise<unknown[][]> =>
    (
      await state
        .sink!.query<Record<string, unknown>>(
          `SELECT ${extra}id, name, score, sex FROM "${db}".${table} ORDER BY ${extra ? '_seq' : 'id'}`,
        )
        .catch(() => [])
    ).map((r) => Object.values(r));

  beforeAll(async () => {
    await runMysqlScript(await scenarioSql('source.sql', db));
    state.sink = await freshPostgresDatabase(`student_${mode}`);
    state.options = {
      name: `student-${mode}`,
      tables: `${db}.student`,
      sinkUrl: state.sink.url,
      sinkYaml: `  type: postgres\n  url: \${TEST_SINK_URL}\n  write-mode: ${mode}`,
      checkpointInterval: '3s',
      stateDir: await testTempDir('tributary-test-state'),
    };
    state.running = await startTestPipeline(state.options);
  });

  afterAll(async () => {
    if (process.env['TRIBUTARY_TEST_DEBUG']) console.log(state.running?.logs.join('\n'));
    await state.running?.stop().catch(() => {});
    await state.sink?.drop();
    await runMysqlScript(`DROP DATABASE IF EXISTS ${db}`);
  });

  return {
    db,
    state,
    student: () => rows('student'),
    changelog: () => rows('student_changelog', '"_op", "_position", "_seq"::int, '),
    /** Stops the pipeline (a savepoint) and runs `whileStopped`, then starts it again from its checkpoint. */
    async restart(whileStopped: () => Promise<void>): Promise<void> {
      await state.running!.stop();
      state.running = undefined;
      await whileStopped();
      state.running = await startTestPipeline(state.options!);
    },
  };
}

describe.each(['upsert', 'merge'] as const)('student scenario end to end, write-mode %s', (mode) => {
  const run = studentPipeline(mode);

  it('loads the table, then leaves exactly the last state per key', async () => {
    await waitFor(async () => JSON.stringify(await run.student()) === JSON.stringify(initial), {
      message: 'the initial load',
    });
    await runMysqlScript(await scenarioSql('changes.sql', run.db));
    await waitFor(async () => JSON.stringify(await run.student()) === JSON.stringify(final), {
      message: 'the changes',
    });
    expect(await run.student()).toEqual(final);
  });
});

describe('student scenario end to end, write-mode append', () => {
  const run = studentPipeline('append');

  it('records 4 snapshot reads and 7 changes, each once, and after a restart only what is new', async () => {
    await waitFor(async () => (await run.changelog()).length === 4, { message: 'the 4 snapshot reads' });
    await runMysqlScript(await scenarioSql('changes.sql', run.db));
    await waitFor(async () => (await run.changelog()).length >= 11, { message: 'the 7 changes' });
    const recorded = await run.changelog();
    expect(recorded.map((r) => [r[0], r[2], r[3], r[4], r[5], r[6]])).toEqual([
      ['read', 1, 1, 'student1', 65, '1'],
      ['read', 2, 2, 'student2', 75, '0'],
      ['read', 3, 3, 'student3', 85, '1'],
      ['read', 4, 4, 'student4', 95, '0'],
      ['update', 5, 2, 'student2', 75, '1'],
      ['update', 6, 3, 'student3', null, null],
      ['update', 7, 4, 'student4', null, null],
      ['insert', 8, 5, 'student5', 50, '1'],
      ['update', 9, 5, 'student5', 55, '1'],
      ['delete', 10, 5, 'student5', 55, '1'],
      ['insert', 11, 6, 'student6', 60, '0'],
    ]);
    const positions = recorded.slice(4).map((r) => r[1] as string);
    expect(new Set(positions).size).toBe(7);
    expect([...positions].sort()).toEqual(positions);
    expect(recorded.slice(0, 4).every((r) => r[1] === null)).toBe(true);

    // Stopped, the source changes; started again, only that change is recorded.
    await run.restart(async () => {
      const conn = await mysqlAdmin();
      await conn.query(`UPDATE ${run.db}.student SET score = 61 WHERE id = 6`);
      await conn.end();
    });
    await waitFor(async () => (await run.changelog()).length >= 12, { message: 'the change made while stopped' });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const after = await run.changelog();
    expect(after).toHaveLength(12);
    expect(after.slice(0, 11)).toEqual(recorded);
    expect(after[11]?.[0]).toBe('update');
    expect(after[11]?.slice(2)).toEqual([12, 6, 'student6', 61, '0']);
    expect(await run.state.sink!.query(`SELECT to_regclass('"${run.db}".student') AS t`)).toEqual([{ t: null }]);
  });
});
