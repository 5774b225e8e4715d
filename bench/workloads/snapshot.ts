/**
 * Snapshot workloads: one source table (narrow, wide, or the 10M-row narrow one) moved into a fresh database
 * by Tributary (`scan.startup.mode: snapshot`, from run() to its resolving with outcome `finished`) and, on the
 * same data in the same repetition, by the references: the floor pipe and pgloader.
 */
import type { Bench } from '../context.js';
import type { Group } from '../options.js';
import type { PipelineProcess } from '../pipeline-process.js';
import type { RunRecord, WorkloadResult } from '../report.js';
import { pgCount, verifyTarget, type Checksum, type TableShape } from '../tables.js';
import { floorRun } from './floor.js';
import { findPgloader, pgloaderRun } from './pgloader.js';

export interface SnapshotData {
  readonly group: Group;
  /** narrow | wide | 10m: names the workloads and their databases. */
  readonly tag: string;
  readonly shape: TableShape;
  /** `bench.<table>` on the source. */
  readonly table: string;
  readonly rows: number;
  readonly checksum: Checksum;
}

interface Variant {
  readonly chunkSize: number | null;
  readonly readers: number;
}

/** The chunk sizes × readers tried: all of them on the narrow table, the defaults elsewhere. */
function variants(bench: Bench, data: SnapshotData): Variant[] {
  if (data.group !== 'snapshot-narrow') return [{ chunkSize: null, readers: 1 }];
  const { chunkSizes, readers } = bench.config;
  return chunkSizes.flatMap((chunkSize) => readers.map((r) => ({ chunkSize, readers: r })));
}

const variantId = (data: SnapshotData, v: Variant): string =>
  `snapshot-${data.tag}` +
  (v.chunkSize === null && v.readers === 1 ? '' : `-c${v.chunkSize ?? 'default'}-x${v.readers}`);

/** One repetition of the group: the references first, then every Tributary variant. */
export async function snapshotGroup(bench: Bench, data: SnapshotData, repetition: number): Promise<void> {
  const size = `${data.rows.toLocaleString('en-US')} ${data.shape.name} rows`;
  const references: string[] = [];
  if (bench.config.references.includes('floor')) {
    const floor = bench.workload({
      id: `floor-${data.tag}`,
      group: data.group,
      label: `floor pipe (${data.tag}): mariadb | psql \\copy`,
      rows: data.rows,
      ours: false,
      description:
        `${size}: mariadb --batch --quick | psql \\copy into a pre-created table with the same primary key; CPU ` +
        'and RSS are those of the two external client processes (RSS: the larger one)',
    });
    references.push(floor.id);
    await bench.record(floor, repetition, () => floorRun(bench, data, repetition));
  }
  if (bench.config.references.includes('pgloader')) {
    const pgloader = bench.workload({
      id: `pgloader-${data.tag}`,
      group: data.group,
      label: `pgloader (${data.tag})`,
      rows: data.rows,
      ours: false,
      description: `${size}: pgloader with its defaults into a fresh database, start to exit of the process`,
    });
    references.push(pgloader.id);
    const found = await findPgloader();
    if ('missing' in found) pgloader.skipped = found.missing;
    else await bench.record(pgloader, repetition, () => pgloaderRun(bench, data, repetition, found.path));
  }
  for (const variant of variants(bench, data)) {
    const chunk = variant.chunkSize === null ? 'default chunk' : `chunk ${variant.chunkSize}`;
    const workload = bench.workload({
      id: variantId(data, variant),
      group: data.group,
      label: `Tributary snapshot (${data.tag}), ${chunk}, ${variant.readers} reader${variant.readers > 1 ? 's' : ''}`,
      rows: data.rows,
      ours: true,
      references,
      description:
        `${size}: scan.startup.mode: snapshot, ${chunk}, parallelism ${variant.readers}, into a fresh ` +
        `database; from run() to its resolving with outcome 'finished'`,
    });
    await bench.record(workload, repetition, () => tributaryRun(bench, data, variant, workload, repetition));
  }
}

async function tributaryRun(
  bench: Bench,
  data: SnapshotData,
  variant: Variant,
  workload: WorkloadResult,
  repetition: number,
): Promise<RunRecord> {
  const database = `${workload.id.replace(/-/g, '_')}_r${repetition}`;
  return await bench.withTarget(database, async (stateDir) => {
    let pipeline: PipelineProcess | undefined;
    try {
      await bench.settle();
      const serverCpu = await bench.serverCpuMeter();
      pipeline = bench.startPipeline({
        name: `${workload.id}-r${repetition}`,
        tables: data.table,
        mode: 'snapshot',
        database,
        stateDir,
        chunkSize: variant.chunkSize,
        readers: variant.readers,
      });
      const done = await pipeline.done;
      const serverCpuSeconds = await serverCpu();
      if (done.outcome !== 'finished') throw new Error(`run() resolved with outcome '${done.outcome}'`);
      const client = await bench.pgConnect(database);
      try {
        const count = await pgCount(client, data.table);
        if (count !== data.rows) throw new Error(`the sink holds ${count} rows, not ${data.rows}`);
        await verifyTarget(client, data.table, data.shape, data.checksum);
      } finally {
        await client.end();
      }
      return {
        repetition,
        seconds: done.elapsedSeconds,
        cpuSeconds: done.cpuSeconds,
        maxRssMb: done.maxRssMb,
        serverCpuSeconds,
        detail: { checkpoints: done.checkpoints, eventsApplied: done.eventsApplied },
      };
    } finally {
      await pipeline?.exit();
    }
  });
}
