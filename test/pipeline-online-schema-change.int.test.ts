import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlRows, textRows } from './harness/compare.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startTestPipeline, type RunningPipeline } from './harness/pipelines.js';

/**
 * Issue 5: online schema-change tools keep working without re-snapshotting the table. The statements are the ones
 * gh-ost and pt-online-schema-change send (their comments and quoting included): a shadow table is created and
 * altered, rows are copied into it while the original keeps changing, and the two are swapped with one RENAME.
 * The pipeline captures the whole database (so the shadow tables match the pattern too), with behavior `evolve`.
 */
describe('online schema changes (gh-ost, pt-online-schema-change)', () => {
  const db = uniqueName('osc');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let running: RunningPipeline;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await source.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY, a VARCHAR(20), b INT)`);
    await source.query(`INSERT INTO ${db}.t SELECT seq, CONCAT('a', seq), seq * 10 FROM ${db}.seq_1_to_500`);
    await source.query(`CREATE TABLE ${db}.u (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)`);
    await source.query(`INSERT INTO ${db}.u SELECT seq, CONCAT('u', seq) FROM ${db}.seq_1_to_300`);
    sink = await freshPostgresDatabase('osc');
    running = await startTestPipeline({
      name: 'osc',
      tables: `${db}.\\.*`,
      sinkUrl: sink.url,
      pipelineYaml: '  schema.change.behavior: evolve',
    });
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.u`).catch(() => [])).length === 300);
  });

  afterAll(async () => {
    await running?.stop().catch(() => {});
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it('gh-ost: ADD COLUMN … AFTER and a rename with a wider type arrive as schema changes, with no table read again', async () => {
    const q = (sql: string) => source.query(sql);
    await q(`create /* gh-ost */ table \`${db}\`.\`_t_gho\` like \`${db}\`.\`t\``);
    await q(
      `alter /* gh-ost */ table \`${db}\`.\`_t_gho\` add column note varchar(20) after a, change column b b2 bigint`,
    );
    await q(
      `create /* gh-ost */ table \`${db}\`.\`_t_ghc\` (id bigint auto_increment, last_update timestamp not null, hint varchar(64) not null, value text, primary key(id)) auto_increment=256`,
    );
    await q(
      `insert /* gh-ost */ ignore into \`${db}\`.\`_t_gho\` (id, a, b2) (select id, a, b from \`${db}\`.\`t\` force index (PRIMARY) where id between 1 and 250)`,
    );
    // The original keeps changing while the rows are copied; gh-ost applies each change to the shadow too.
    await q(`UPDATE ${db}.t SET a = 'changed' WHERE id = 7`);
    await q(`replace /* gh-ost */ into \`${db}\`.\`_t_gho\` (id, a, b2) values (7, 'changed', 70)`);
    await q(`INSERT INTO ${db}.t VALUES (501, 'new', 5010)`);
    await q(`replace /* gh-ost */ into \`${db}\`.\`_t_gho\` (id, a, b2) values (501, 'new', 5010)`);
    await q(
      `insert /* gh-ost */ ignore into \`${db}\`.\`_t_gho\` (id, a, b2) (select id, a, b from \`${db}\`.\`t\` force index (PRIMARY) where id between 251 and 501)`,
    );
    await q(`DELETE FROM ${db}.t WHERE id = 9`);
    await q(`delete /* gh-ost */ from \`${db}\`.\`_t_gho\` where id = 9`);
    // Cut-over: the sentry table, then the atomic swap.
    await q(
      `create /* gh-ost */ table \`${db}\`.\`_t_del\` (id int auto_increment primary key) engine=InnoDB comment='ghost-cut-over-sentry'`,
    );
    await q(`drop /* gh-ost */ table if exists \`${db}\`.\`_t_del\``);
    await q(
      `rename /* gh-ost */ table \`${db}\`.\`t\` to \`${db}\`.\`_t_del\`, \`${db}\`.\`_t_gho\` to \`${db}\`.\`t\``,
    );
    await q(`drop /* gh-ost */ table if exists \`${db}\`.\`_t_del\``);
    await q(`drop /* gh-ost */ table if exists \`${db}\`.\`_t_ghc\``);
    await q(`INSERT INTO ${db}.t VALUES (502, 'after', 'with note', 5000000000)`);
    await q(`UPDATE ${db}.t SET note = 'noted', b2 = b2 + 1 WHERE id = 1`);

    await expectEqualRows(
      `SELECT CAST(id AS CHAR), a, note, CAST(b2 AS CHAR) FROM ${db}.t ORDER BY id`,
      `SELECT id::text AS k, a, note, b2::text AS b FROM ${db}.t ORDER BY id`,
    );
    const columns = await sink.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 't' ORDER BY ordinal_position`,
      [db],
    );
    expect(columns.map((c) => `${c.column_name} ${c.data_type}`).sort()).toEqual(
      ['a character varying', 'b2 bigint', 'id integer', 'note character varying'].sort(),
    );
    const shadows = await sink.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE '\\_%'`,
      [db],
    );
    expect(shadows).toEqual([]);
    const logs = running.logs.join('\n');
    expect(logs.match(new RegExp(`snapshot of ${db}\\.t done`, 'g'))?.length ?? 0).toBe(1);
    expect(logs).not.toMatch(/new table .*_t_/);
  });

  it('pt-online-schema-change: a new table with the full definition, triggers, a copy and the swap', async () => {
    const q = (sql: string) => source.query(sql);
    await q(
      `CREATE TABLE \`${db}\`.\`_u_new\` (\n  \`id\` int(11) NOT NULL,\n  \`name\` varchar(20) NOT NULL,\n  PRIMARY KEY (\`id\`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    await q(`ALTER TABLE \`${db}\`.\`_u_new\` ADD COLUMN extra INT, MODIFY name VARCHAR(60) NOT NULL`);
    for (const [op, body] of [
      ['INSERT', `REPLACE INTO \`${db}\`.\`_u_new\` (id, name) VALUES (NEW.id, NEW.name)`],
      ['UPDATE', `REPLACE INTO \`${db}\`.\`_u_new\` (id, name) VALUES (NEW.id, NEW.name)`],
      ['DELETE', `DELETE IGNORE FROM \`${db}\`.\`_u_new\` WHERE id = OLD.id`],
    ] as const) {
      await q(
        `CREATE TRIGGER \`${db}\`.\`pt_osc_u_${op.toLowerCase()}\` AFTER ${op} ON \`${db}\`.\`u\` FOR EACH ROW ${body}`,
      );
    }
    await q(
      `INSERT LOW_PRIORITY IGNORE INTO \`${db}\`.\`_u_new\` (\`id\`, \`name\`) SELECT \`id\`, \`name\` FROM \`${db}\`.\`u\` FORCE INDEX(\`PRIMARY\`) WHERE id <= 150 LOCK IN SHARE MODE /*pt-online-schema-change chunk*/`,
    );
    await q(`UPDATE ${db}.u SET name = 'renamed' WHERE id = 200`);
    await q(`INSERT INTO ${db}.u VALUES (301, 'u301')`);
    await q(
      `INSERT LOW_PRIORITY IGNORE INTO \`${db}\`.\`_u_new\` (\`id\`, \`name\`) SELECT \`id\`, \`name\` FROM \`${db}\`.\`u\` FORCE INDEX(\`PRIMARY\`) WHERE id > 150 LOCK IN SHARE MODE /*pt-online-schema-change chunk*/`,
    );
    await q(`RENAME TABLE \`${db}\`.\`u\` TO \`${db}\`.\`_u_old\`, \`${db}\`.\`_u_new\` TO \`${db}\`.\`u\``);
    await q(`DROP TABLE IF EXISTS \`${db}\`.\`_u_old\``);
    await q(`INSERT INTO ${db}.u VALUES (302, 'a name longer than twenty characters', 7)`);

    await expectEqualRows(
      `SELECT CAST(id AS CHAR), name, CAST(extra AS CHAR) FROM ${db}.u ORDER BY id`,
      `SELECT id::text AS k, name, extra::text AS e FROM ${db}.u ORDER BY id`,
    );
    const target = async () =>
      textRows(await sink.query(`SELECT id::text AS k, name, extra::text AS e FROM ${db}.u ORDER BY id`));
    expect((await target()).find((r) => r[0] === '200')).toEqual(['200', 'renamed', null]);
    expect(running.logs.join('\n')).not.toMatch(/new table .*_u_/);
  });

  /** Waits until the target query returns the source query's rows; else fails with the first difference. */
  async function expectEqualRows(sourceSql: string, targetSql: string): Promise<void> {
    const expected = await mysqlRows(source, sourceSql);
    const target = async () => textRows(await sink.query(targetSql).catch(() => []));
    await waitFor(async () => JSON.stringify(await target()) === JSON.stringify(expected), { timeoutMs: 90_000 }).catch(
      async (error: Error) => {
        const got = await target();
        const at = Math.max(
          0,
          expected.findIndex((row, i) => JSON.stringify(row) !== JSON.stringify(got[i])),
        );
        throw new Error(
          `${error.message}: ${expected.length} source rows, ${got.length} target rows; first difference at ${at}: ` +
            `source ${JSON.stringify(expected[at])}, target ${JSON.stringify(got[at])}\n${running.logs.slice(-15).join('\n')}`,
        );
      },
    );
  }
});
