/**
 * Commit-to-visible latency at a fixed rate. A writer inserts rows into bench.lat at R rows/s (a transaction
 * every 20 ms) for S seconds, stamping each row's `src_us` with the time it sends the transaction (µs, the
 * suite's clock). On the target, a statement-level trigger on the table Tributary created sends
 * `pg_notify('bench_visible', max(id))` for every write; PostgreSQL delivers a notification only when the
 * writing transaction commits, so its arrival at the suite's listening connection is the moment the rows
 * became visible to readers — not the moment they were applied, which may be earlier and is not what a reader
 * sees. A row's latency is that arrival minus its stamp: it includes the source's own commit, the binlog, the
 * pipeline's batching up to its checkpoint interval, the target's commit and the notification's delivery
 * (well under 1 ms on one machine). Both clocks are the suite's, so there is no clock skew.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Bench } from '../context.js';
import { median } from '../measure.js';
import { round, type RunRecord } from '../report.js';
import { oneTable, withStreamingPipeline, type Streaming } from '../streaming.js';

const TABLE = 'bench.lat';
const TICK_MS = 20;
const CHANNEL = 'bench_visible';

interface Sent {
  readonly lastId: number;
  readonly rows: number;
  /** performance.now() when the transaction was sent (the row's src_us, in ms of this clock). */
  readonly at: number;
}

interface Seen {
  readonly maxId: number;
  readonly at: number;
}

/** The suite's clock in µs since the epoch: what the writer puts in src_us. */
const nowMicros = (at: number): number => Math.round((performance.timeOrigin + at) * 1000);

/** Percentile `p` (0…1) of latencies weighted by their row counts. */
function percentile(samples: readonly { ms: number; rows: number }[], p: number): number {
  const sorted = [...samples].sort((a, b) => a.ms - b.ms);
  const total = sorted.reduce((sum, s) => sum + s.rows, 0);
  let seen = 0;
  for (const sample of sorted) {
    seen += sample.rows;
    if (seen >= p * total) return sample.ms;
  }
  return Number.NaN;
}

async function installTrigger(sink: pg.Client): Promise<void> {
  await sink.query(
    `CREATE OR REPLACE FUNCTION public.bench_visible() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
      `PERFORM pg_notify('${CHANNEL}', (SELECT max(id)::text FROM new_rows)); RETURN NULL; END $$`,
  );
  await sink.query(
    `CREATE TRIGGER bench_visible AFTER INSERT ON ${TABLE} REFERENCING NEW TABLE AS new_rows ` +
      'FOR EACH STATEMENT EXECUTE FUNCTION public.bench_visible()',
  );
}

export async function latency(bench: Bench, rate: number, interval: string, repetition: number): Promise<void> {
  const { seconds } = bench.config.latency;
  const workload = bench.workload({
    id: `latency-${rate / 1000}k-${interval}`,
    group: 'latency',
    label: `Tributary latency, ${rate.toLocaleString('en-US')} rows/s, checkpoint ${interval}`,
    rows: rate * seconds,
    ours: true,
    description:
      `inserts at ${rate} rows/s (a transaction every ${TICK_MS} ms) for ${seconds} s, pipeline.checkpoint.interval ` +
      `${interval}; latency = arrival of the target's commit notification − the row's source stamp (p50/p99/max ` +
      'over rows); seconds = the writing time; CPU and RSS of the pipeline over it',
  });
  await bench.mysql.query(
    `DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} ` +
      '(id BIGINT PRIMARY KEY, src_us BIGINT NOT NULL, payload VARCHAR(100) NOT NULL) ENGINE=InnoDB',
  );
  const database = `bench_latency_r${repetition}`;
  try {
    await withStreamingPipeline(
      bench,
      oneTable(TABLE, `bench-latency-r${repetition}`, database, interval),
      async (streaming) => {
        await installTrigger(streaming.sink);
        const listener = await bench.pgConnect(database);
        const seen: Seen[] = [];
        listener.on('notification', (message) => seen.push({ maxId: Number(message.payload), at: performance.now() }));
        await listener.query(`LISTEN ${CHANNEL}`);
        try {
          await bench.record(workload, repetition, () =>
            writeAndMeasure(bench, streaming, rate, seconds, seen, repetition),
          );
        } finally {
          await listener.end();
        }
      },
    );
  } catch (error) {
    if (workload.runs.length + workload.failures.length < repetition) bench.fail([workload], repetition, error);
  } finally {
    await bench.mysql.query(`DROP TABLE IF EXISTS ${TABLE}`);
  }
}

async function writeAndMeasure(
  bench: Bench,
  streaming: Streaming,
  rate: number,
  seconds: number,
  seen: Seen[],
  repetition: number,
): Promise<RunRecord> {
  const { pipeline } = streaming;
  const usage0 = await pipeline.usage();
  const serverCpu = await bench.serverCpuMeter();
  const sent: Sent[] = [];
  const started = performance.now();
  let written = 0;
  for (let tick = 1; ; tick++) {
    const now = performance.now();
    const elapsed = (now - started) / 1000;
    if (elapsed >= seconds) break;
    const due = Math.floor(rate * elapsed);
    if (due > written) {
      const lo = written + 1;
      await bench.mysql.query(
        `INSERT INTO ${TABLE} SELECT seq, ${nowMicros(now)}, CONCAT('row-', seq, '-', MD5(seq)) FROM seq_${lo}_to_${due}`,
      );
      sent.push({ lastId: due, rows: due - written, at: now });
      written = due;
    }
    const wait = started + tick * TICK_MS - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const writeSeconds = (performance.now() - started) / 1000;
  const deadline = performance.now() + 60_000;
  while ((seen.at(-1)?.maxId ?? 0) < written) {
    if (pipeline.failure) throw pipeline.failure;
    if (performance.now() > deadline) throw new Error(`row ${written} not visible 60 s after it was written`);
    await sleep(5);
  }
  const usage1 = await pipeline.usage();
  const serverCpuSeconds = await serverCpu();
  // Notifications arrive in commit order with growing ids: the first one covering a transaction's last id is
  // when all of it became visible.
  const samples: { ms: number; rows: number }[] = [];
  let k = 0;
  for (const tx of sent) {
    while (k < seen.length && seen[k]!.maxId < tx.lastId) k++;
    samples.push({ ms: seen[k]!.at - tx.at, rows: tx.rows });
  }
  const count = await streaming.sink.query<{ n: number; s: string }>(
    `SELECT count(*)::int AS n, max(src_us)::text AS s FROM ${TABLE}`,
  );
  if (count.rows[0]?.n !== written) throw new Error(`the target holds ${count.rows[0]?.n} rows, not ${written}`);
  if (count.rows[0]?.s !== String(nowMicros(sent.at(-1)!.at))) throw new Error('the last row’s src_us differs');
  return {
    repetition,
    seconds: writeSeconds,
    cpuSeconds: usage1.cpuSeconds - usage0.cpuSeconds,
    maxRssMb: usage1.maxRssMb,
    serverCpuSeconds,
    metrics: {
      p50Ms: round(percentile(samples, 0.5), 1),
      p99Ms: round(percentile(samples, 0.99), 1),
      maxMs: round(Math.max(...samples.map((s) => s.ms)), 1),
    },
    detail: {
      rowsWritten: written,
      transactions: sent.length,
      notifications: seen.length,
      medianTransactionRows: median(sent.map((s) => s.rows)),
    },
  };
}
