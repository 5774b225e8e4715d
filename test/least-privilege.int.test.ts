import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composePipeline } from '../src/composer/pipeline-composer.js';
import { parsePipelineYaml } from '../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../src/connectors/registry.js';
import { createLogger } from '../src/runtime/logger.js';
import { freshPostgresDatabase, mysqlAdmin, uniqueName, type FreshPostgresDatabase } from './harness/databases.js';
import { testPipelineYaml } from './harness/pipelines.js';

/** Issue 18: `validate` names the exact grants the pipeline needs and warns about privileges beyond them. */
describe('least privilege: validate lists the grants needed and flags the excess', () => {
  const db = uniqueName('lp');
  const minimal = uniqueName('lp_min').slice(0, 30);
  const admin_ = uniqueName('lp_all').slice(0, 30);
  const password = 'lp-pw-0c4d';
  let admin: Connection;
  let sink: FreshPostgresDatabase;

  beforeAll(async () => {
    admin = await mysqlAdmin();
    await admin.query(
      `CREATE DATABASE ${db}; CREATE TABLE ${db}.t (id INT PRIMARY KEY, v TEXT);
       CREATE USER '${minimal}'@'%' IDENTIFIED BY '${password}';
       GRANT SELECT ON \`${db}\`.* TO '${minimal}'@'%';
       GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${minimal}'@'%';
       CREATE USER '${admin_}'@'%' IDENTIFIED BY '${password}';
       GRANT ALL PRIVILEGES ON *.* TO '${admin_}'@'%' WITH GRANT OPTION;`,
    );
    sink = await freshPostgresDatabase('lp');
  });

  afterAll(async () => {
    await admin?.query(`DROP DATABASE IF EXISTS ${db}; DROP USER IF EXISTS '${minimal}'@'%', '${admin_}'@'%'`);
    await admin?.end();
    await sink?.drop();
  });

  async function validate(user: string) {
    const { yaml, env } = await testPipelineYaml({ name: uniqueName('lp'), tables: `${db}.t`, sinkUrl: sink.url });
    const text = yaml
      .replace(/^ {2}username: .*$/m, `  username: ${user}`)
      .replace('${TEST_MYSQL_PASSWORD}', '${LP_PASSWORD}');
    const def = parsePipelineYaml(text, {
      file: 'p.yaml',
      env: { ...env, LP_PASSWORD: password },
      optionSpecsFor,
      knownTypes,
    });
    return await composePipeline(def, { log: createLogger({ write: () => {} }) }).validate();
  }

  it('the minimal account: the exact grants are listed, and nothing is flagged', async () => {
    const report = await validate(minimal);
    const needed = report.checks.find((c) => c.message.startsWith('the grants this pipeline needs'));
    expect(needed?.status).toBe('ok');
    expect(needed?.message).toContain(`GRANT SELECT ON \`${db}\`.* TO '${minimal}'@'%'`);
    expect(needed?.message).toContain(`GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${minimal}'@'%'`);
    expect(report.warnings.filter((w) => w.includes('more than change data capture needs'))).toEqual([]);
  });

  it('an account with ALL PRIVILEGES and GRANT OPTION: a warning naming them and the REVOKE', async () => {
    const report = await validate(admin_);
    const warning = report.checks.find((c) => c.message.includes('more than change data capture needs'));
    expect(warning?.status).toBe('warning');
    expect(warning?.message).toContain('ALL PRIVILEGES, GRANT OPTION ON *.*');
    expect(warning?.fix).toMatch(/^REVOKE ALL PRIVILEGES, GRANT OPTION ON \*\.\* FROM/);
    expect(warning?.fix).toContain('GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*');
    // The password hash SHOW GRANTS may print is never repeated.
    expect(JSON.stringify(report)).not.toMatch(/IDENTIFIED|\*[0-9A-F]{40}/);
  });
});
