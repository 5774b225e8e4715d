/**
 * What a transform with five computed columns and a filter costs, next to the sink it feeds (issue 11):
 *
 * 1. the transform operator alone, in this process: N snapshot rows of the narrow bench table through
 *    `projection` (the 7 columns + 5 computed) and `filter`, in batches as the runner hands them over;
 * 2. end to end: the same N rows snapshotted from MariaDB into PostgreSQL without a transform and with it,
 *    each in a fresh database, median of R runs alternating the two.
 *
 * The figure that matters is (1) per row against the plain snapshot's time per row in (2): the share of the
 * pipeline's time that the expressions take. Usage:
 *   npx tsc -p bench/tsconfig.json && node dist/bench/bench/transform-expressions.js [--rows N] [--reps R]
 */
import { performance } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus as cpus_, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { composePipeline, createLogger, knownTypes, optionSpecsFor, parsePipelineYaml } from '../src/index.js';
import type { ChangeEvent } from '../src/core/change-event.js';
import type { Row } from '../src/core/data-type.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { TransformOperator } from '../src/transform/transform-operator.js';
import { pgConnect, say, startServers } from './context.js';
import { fillTable, NARROW } from './tables.js';
import { numberOption } from './number-option.js';

const args = process.argv.slice(2);
const ROWS = numberOption('--rows', 200_000);
const REPS = numberOption('--reps', 3);

const TRANSFORM = `transform:
  - source-table: bench_expr.t
    projection: id, a, b, c, d, e, f, UPPER(d) AS d_upper, c * 2 AS c2, a + b AS ab, CONCAT(e, '/', CAST(id AS STRING)) AS tag, DATE_FORMAT(f, 'yyyy-MM-dd') AS day
    filter: a >= -1000000 AND c >= 0
`;

/** The control: the same 12 output columns of about the same size, copied instead of computed. */
const COPIES = `transform:
  - source-table: bench_expr.t
    projection: id, a, b, c, d, e, f, d AS d_upper, c AS c2, b AS ab, e AS tag, f AS day
`;

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

/** (1): the operator alone, on rows shaped like the narrow table's. */
const VARIANTS = ['plain', 'copies', 'transform'] as const;
type Variant = (typeof VARIANTS)[number];

const cpuSeconds = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6;

function operatorOnly(): { seconds: number; cpuSeconds: number; rowsPerSecond: number } {
  const def = parsePipelineYaml(
    `source:\n  type: mysql\n  hostname: h\n  username: u\n  tables: bench_expr.t\nsink:\n  type: postgres\n  url: postgres://x\n${TRANSFORM}`,
    { file: 'bench.yaml', env: {}, optionSpecsFor, knownTypes },
  );
  const schema: TableSchema = {
    id: tableId('bench_expr', 't'),
    columns: [
      { name: 'id', type: { kind: 'int64' }, nullable: false },
      { name: 'a', type: { kind: 'int32' }, nullable: false },
      { name: 'b', type: { kind: 'int64' }, nullable: false },
      { name: 'c', type: { kind: 'decimal', precision: 12, scale: 2 }, nullable: false },
      { name: 'd', type: { kind: 'varchar', length: 64 }, nullable: false },
      { name: 'e', type: { kind: 'varchar', length: 64 }, nullable: false },
      { name: 'f', type: { kind: 'timestamp', precision: 6 }, nullable: false },
    ],
    primaryKey: ['id'],
  };
  const operator = new TransformOperator({ transforms: def.transforms, routes: [], timeZone: 'UTC' });
  operator.process([{ kind: 'schema', table: schema.id, change: 'createTable', schema, source: { tsMs: 0 } }]);
  const batch = 1000;
  const batches: ChangeEvent[][] = [];
  for (let start = 1; start <= ROWS; start += batch) {
    const events: ChangeEvent[] = [];
    for (let seq = start; seq < Math.min(start + batch, ROWS + 1); seq++) {
      const row: Row = [
        BigInt(seq),
        ((seq * 7919) % 2000003) - 1000000,
        BigInt(seq) * 1000003n,
        (((seq * 37) % 10000000) / 100).toFixed(2),
        `name-${String(seq).padStart(10, '0')}-0123456789abcdef0123456789abcdef`,
        `0123456789abcdef0123456789abcdef01234567@example.org`,
        `2024-01-0${1 + (seq % 9)} 12:34:56.${String(seq % 1000000).padStart(6, '0')}`,
      ];
      events.push({ kind: 'data', table: schema.id, op: 'read', before: null, after: row, source: { tsMs: 0 } });
    }
    batches.push(events);
  }
  const runs: number[] = [];
  const cpu: number[] = [];
  for (let rep = 0; rep < REPS + 1; rep++) {
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    let out = 0;
    for (const events of batches) out += operator.process(events).length;
    if (out !== ROWS) throw new Error(`the filter dropped rows: ${out} of ${ROWS}`);
    if (rep === 0) continue; // the first pass warms the JIT up
    runs.push((performance.now() - started) / 1000);
    cpu.push(cpuSeconds(process.cpuUsage(cpuStart)));
  }
  const seconds = median(runs);
  return { seconds, cpuSeconds: median(cpu), rowsPerSecond: ROWS / seconds };
}

async function main(): Promise<void> {
  say(`transform-expressions bench: ${ROWS.toLocaleString('en-US')} rows, ${REPS} repetitions`);
  const op = operatorOnly();
  say(
    `operator alone: ${op.seconds.toFixed(3)} s (${op.cpuSeconds.toFixed(3)} CPU s), ` +
      `${Math.round(op.rowsPerSecond).toLocaleString('en-US')} rows/s`,
  );
  if (args.includes('--operator-only')) return;

  const servers = await startServers();
  try {
    const { mariadb, postgres } = servers;
    const mysql = await createConnection({
      host: mariadb.host,
      port: mariadb.port,
      user: mariadb.user,
      password: mariadb.password,
      multipleStatements: true,
    });
    mysql.on('error', () => undefined);
    await mysql.query('DROP DATABASE IF EXISTS bench_expr; CREATE DATABASE bench_expr; USE bench_expr');
    await fillTable(mysql, 'bench_expr.t', NARROW, ROWS);
    await mysql.end();
    const admin = await pgConnect(servers, 'postgres');
    const times: Record<Variant, number[]> = { plain: [], copies: [], transform: [] };
    const cpus: Record<Variant, number[]> = { plain: [], copies: [], transform: [] };
    for (let rep = 0; rep < REPS; rep++) {
      for (const variant of VARIANTS) {
        const database = `bench_expr_${variant}_${rep}`;
        await admin.query(`DROP DATABASE IF EXISTS ${database}`);
        await admin.query(`CREATE DATABASE ${database}`);
        const stateDir = await mkdtemp(join(tmpdir(), 'tributary-bench-expr-'));
        const yaml = `source:
  type: mysql
  hostname: ${mariadb.host}
  port: ${mariadb.port}
  username: ${mariadb.user}
  password: \${PASSWORD}
  tables: bench_expr.t
  scan.startup.mode: snapshot
sink:
  type: postgres
  url: postgres://${postgres.user}@${postgres.host}:${postgres.port}/${database}
${variant === 'transform' ? TRANSFORM : variant === 'copies' ? COPIES : ''}pipeline:
  name: bench-expr-${variant}-${rep}
  state.dir: ${stateDir}
`;
        const def = parsePipelineYaml(yaml, {
          file: 'bench.yaml',
          env: { PASSWORD: mariadb.password },
          optionSpecsFor,
          knownTypes,
        });
        const pipeline = composePipeline(def, { log: createLogger({ level: 'warn' }), maxRetries: 0 });
        const started = performance.now();
        const cpuStart = process.cpuUsage();
        const result = await pipeline.run();
        const seconds = (performance.now() - started) / 1000;
        cpus[variant].push(cpuSeconds(process.cpuUsage(cpuStart)));
        if (result.outcome !== 'finished') throw new Error(`${variant}: ${result.outcome}`);
        const check = await pgConnect(servers, database);
        const { rows } = await check.query<{ n: string }>('SELECT count(*)::text AS n FROM bench_expr.t');
        await check.end();
        if (rows[0]?.n !== String(ROWS)) throw new Error(`${variant}: ${rows[0]?.n} rows in the target`);
        times[variant].push(seconds);
        say(
          `${variant} snapshot ${rep + 1}/${REPS}: ${seconds.toFixed(2)} s, ${cpus[variant].at(-1)!.toFixed(2)} CPU s`,
        );
        await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await rm(stateDir, { recursive: true, force: true });
      }
    }
    await admin.end();
    const plain = median(times.plain);
    const transformed = median(times.transform);
    const plainCpu = median(cpus.plain);
    const transformedCpu = median(cpus.transform);
    const copies = median(times.copies);
    const copiesCpu = median(cpus.copies);
    const rate = (s: number) => Math.round(ROWS / s).toLocaleString('en-US');
    console.log(`
load average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')} on ${cpus_().length} cores

| measure (median of ${REPS}, ${ROWS.toLocaleString('en-US')} rows) | wall s | rows/s | Tributary CPU s |
| --- | ---: | ---: | ---: |
| transform operator alone (5 computed columns + filter) | ${op.seconds.toFixed(3)} | ${rate(op.seconds)} | ${op.cpuSeconds.toFixed(3)} |
| snapshot MariaDB → PostgreSQL, no transform | ${plain.toFixed(2)} | ${rate(plain)} | ${plainCpu.toFixed(2)} |
| snapshot, 12 columns copied (the control: same width, no expression) | ${copies.toFixed(2)} | ${rate(copies)} | ${copiesCpu.toFixed(2)} |
| snapshot MariaDB → PostgreSQL, with the transform | ${transformed.toFixed(2)} | ${rate(transformed)} | ${transformedCpu.toFixed(2)} |

operator wall time ÷ plain pipeline wall time: ${((op.seconds / plain) * 100).toFixed(1)} % (target < 20 %)
operator CPU ÷ plain pipeline CPU: ${((op.cpuSeconds / plainCpu) * 100).toFixed(1)} %
expressions end to end (transform vs control): ${(((transformed - copies) / copies) * 100).toFixed(1)} % wall, ${(((transformedCpu - copiesCpu) / copiesCpu) * 100).toFixed(1)} % CPU
transform vs no transform: ${(((transformed - plain) / plain) * 100).toFixed(1)} % wall, ${(((transformedCpu - plainCpu) / plainCpu) * 100).toFixed(1)} % CPU (the target table also has 5 more columns to write)
`);
  } finally {
    await servers.mariadb.stop();
    await servers.postgres.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
