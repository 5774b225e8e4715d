import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writePipelineFile, type CliProcess } from './harness/cli-process.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { readTopic, TEST_KAFKA_URL } from './harness/kafka.js';
import { churnItems, createItems, itemsComparison } from './harness/items-table.js';
import { testPipelineYaml } from './harness/pipelines.js';
import { testTempDir } from './harness/temp-dirs.js';

const ROWS = 20_000;

/**
 * Issue 15: MySQL → Kafka → PostgreSQL as two processes, each killed with SIGKILL at any moment: the topic,
 * read by a plain read_committed consumer, holds each key's snapshot row once, and the PostgreSQL table ends
 * equal to the MySQL table. No Kafka-protocol broker can be installed on the development machine, so this runs
 * only against a broker named by TRIBUTARY_TEST_KAFKA_URL (e.g. `127.0.0.1:9092`; it needs transactions, so a
 * single broker must have transaction.state.log.replication.factor=1 and transaction.state.log.min.isr=1).
 */
describe.skipIf(!TEST_KAFKA_URL)(
  `MySQL → Kafka → PostgreSQL survives kill -9 of either process${TEST_KAFKA_URL ? '' : ' (skipped: TRIBUTARY_TEST_KAFKA_URL is not set)'}`,
  () => {
    const brokers = TEST_KAFKA_URL ?? '';
    const db = uniqueName('kafkae2e');
    const topic = `${db}.items`;
    let source: Connection;
    let sink: FreshPostgresDatabase;
    let captureFile: string;
    let applyFile: string;
    let env: Record<string, string>;
    let capture: CliProcess | undefined;
    let apply: CliProcess | undefined;

    const { targetRows, targetCount, converged } = itemsComparison(
      () => source,
      () => sink,
      db,
    );

    beforeAll(async () => {
      source = await mysqlAdmin();
      await createItems(source, db, ROWS);
      sink = await freshPostgresDatabase('kafkae2e');
      const captureYaml = await testPipelineYaml({
        name: `kafka-capture-${db}`,
        tables: `${db}.items`,
        chunkSize: 500,
        checkpointInterval: '200ms',
        sinkYaml: `  type: kafka\n  properties.bootstrap.servers: ${brokers}\n  topic.partitions: 4\n  debezium-json.bigint.unsigned.handling.mode: precise`,
      });
      env = { ...captureYaml.env, TEST_SINK_URL: sink.url };
      captureFile = await writePipelineFile(captureYaml.stateDir, captureYaml.yaml);
      const applyDir = await testTempDir('kafka-apply');
      applyFile = await writePipelineFile(
        applyDir,
        `source:
  type: kafka
  properties.bootstrap.servers: ${brokers}
  topic: ${topic}
sink:
  type: postgres
  url: \${TEST_SINK_URL}
pipeline:
  name: kafka-apply-${db}
  checkpoint.interval: 200ms
  state.dir: ${applyDir}/state
`,
      );
    });

    afterAll(async () => {
      if (process.env['TRIBUTARY_TEST_DEBUG']) console.log(capture?.output(), apply?.output());
      capture?.child.kill('SIGKILL');
      apply?.child.kill('SIGKILL');
      await source?.query(`DROP DATABASE IF EXISTS ${db}`);
      await source?.end();
      await sink?.drop();
    });

    it('both killed mid-snapshot, the source changes, and both restarts converge with each row once in the topic', async () => {
      capture = startCli(['run', captureFile], env);
      await waitFor(async () => (await readTopic(brokers, topic).catch(() => [])).length > 0, {
        timeoutMs: 120_000,
        message: `the topic\n${capture.output()}`,
      });
      apply = startCli(['run', applyFile], env);
      await waitFor(async () => (await targetCount()) > 1_000, {
        timeoutMs: 180_000,
        message: `rows to arrive in PostgreSQL\n${capture.output()}\n${apply.output()}`,
      });
      capture.child.kill('SIGKILL');
      apply.child.kill('SIGKILL');
      expect(await capture.exited).toBe('SIGKILL');
      expect(await apply.exited).toBe('SIGKILL');
      expect(await targetCount()).toBeLessThan(ROWS);

      await source.query(`UPDATE ${db}.items SET val = 'changed-while-down', amount = -1.5 WHERE id % 1000 = 0`);
      await source.query(`DELETE FROM ${db}.items WHERE id % 1500 = 2`);
      await source.query(
        `INSERT INTO ${db}.items VALUES (${ROWS + 1}, 'new', 0.0001, '2025-01-01 00:00:00.000001', 0, x'00ff')`,
      );

      capture = startCli(['run', captureFile], env);
      apply = startCli(['run', applyFile], env);
      await waitFor(converged, {
        timeoutMs: 240_000,
        intervalMs: 500,
        message: `PostgreSQL to equal MySQL after the restarts\n${capture.output()}\n${apply.output()}`,
      });
      // The topic, read by a plain read_committed consumer: each key's snapshot row at most once, and every key in
      // one partition only.
      const reads = new Map<string, number>();
      const partitionOf = new Map<string, Set<number>>();
      for (const r of await readTopic(brokers, topic)) {
        const payload = r.value?.['payload'] as { op: string; after: { id: number } } | undefined;
        if (r.key !== null) partitionOf.set(r.key, (partitionOf.get(r.key) ?? new Set()).add(r.partition));
        if (payload?.op === 'r') reads.set(String(payload.after.id), (reads.get(String(payload.after.id)) ?? 0) + 1);
      }
      expect([...reads.values()].filter((n) => n > 1)).toEqual([]);
      expect([...partitionOf.values()].filter((p) => p.size > 1)).toEqual([]);
    });

    it('killed mid-stream while a writer runs, alternately, and the restarts converge', async () => {
      for (const victim of ['capture', 'apply'] as const) {
        const writes = churnItems(source, db, ROWS, victim);
        await waitFor(async () => (await targetRows()).some((r) => r[1]?.startsWith(`w-${victim}-`)), {
          timeoutMs: 120_000,
        });
        const victimCli = victim === 'capture' ? capture! : apply!;
        victimCli.child.kill('SIGKILL');
        await victimCli.exited;
        await writes;
        if (victim === 'capture') capture = startCli(['run', captureFile], env);
        else apply = startCli(['run', applyFile], env);
        await waitFor(converged, {
          timeoutMs: 240_000,
          intervalMs: 500,
          message: `PostgreSQL to equal MySQL after killing ${victim}\n${capture!.output()}\n${apply!.output()}`,
        });
      }
      capture!.child.kill('SIGTERM');
      apply!.child.kill('SIGTERM');
      expect(await capture!.exited).toBe(0);
      expect(await apply!.exited).toBe(0);
    });
  },
);
