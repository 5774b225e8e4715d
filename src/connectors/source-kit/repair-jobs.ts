import { TributaryError, type RepairOutcome, type Row, type Value } from '../../core/index.js';

/**
 * A chunk read again while the log flows, for `verify --repair` of a running pipeline: not part of the
 * snapshot (its progress is not recorded), its rows go out as upserts, and the `deletes` keys that the chunk's
 * window shows are gone at the source (not read, not changed in the window) go out as deletes.
 */
export interface ChunkRepair {
  /** Rows of the table holding only a key's values: keys found only in the sink. */
  readonly deletes: readonly Row[];
  /** The chunk went out: what it emitted, and the number of the batch that carries it (0: it emitted nothing). */
  readonly emitted: (upserted: number, deleted: number, batch: number) => void;
}

/** One range of a repair, as the kit reads it: key values of the table's primary key, (`lo`, `hi`]. */
export interface RepairRange {
  readonly lo: Value[] | null;
  readonly hi: Value[] | null;
  readonly deletes: readonly Row[];
}

interface Job {
  remaining: number;
  upserted: number;
  deleted: number;
  /** The last batch carrying one of its chunks; done once a checkpoint with that batch's position committed. */
  lastBatch: number;
  resolve(outcome: RepairOutcome): void;
  reject(error: Error): void;
}

/**
 * The repairs in flight of one source: each resolves once all its chunks went out and a checkpoint holding the
 * last of them committed (batches are numbered as the source hands them over; {@link committed} says up to
 * which one the sink has them).
 */
export class RepairJobs {
  private readonly open = new Set<Job>();
  private committedBatch = 0;

  /** A repair of `chunks` chunks: a callback per chunk (pass it to the chunk's {@link ChunkRepair}) and its outcome. */
  start(chunks: number): { emitted: ChunkRepair['emitted']; outcome: Promise<RepairOutcome> } {
    let job!: Job;
    const outcome = new Promise<RepairOutcome>((resolve, reject) => {
      job = { remaining: chunks, upserted: 0, deleted: 0, lastBatch: 0, resolve, reject };
    });
    this.open.add(job);
    this.settle(job);
    return {
      outcome,
      emitted: (upserted, deleted, batch) => {
        job.remaining--;
        job.upserted += upserted;
        job.deleted += deleted;
        job.lastBatch = Math.max(job.lastBatch, batch);
        this.settle(job);
      },
    };
  }

  /** Every batch up to `batch` is committed. */
  committed(batch: number): void {
    this.committedBatch = Math.max(this.committedBatch, batch);
    for (const job of [...this.open]) this.settle(job);
  }

  /** The source closes (stopped, or an attempt failed): the repairs in flight will not complete. */
  failAll(): void {
    for (const job of this.open) {
      job.reject(
        new TributaryError('REPAIR_INTERRUPTED', 'the pipeline restarted or stopped before the repair was committed', {
          hint: 'run verify --repair again: it compares again and repairs what still differs',
        }),
      );
    }
    this.open.clear();
  }

  private settle(job: Job): void {
    if (job.remaining > 0 || job.lastBatch > this.committedBatch) return;
    this.open.delete(job);
    job.resolve({ upserted: job.upserted, deleted: job.deleted });
  }
}
