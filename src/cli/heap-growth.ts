import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 may let the old generation grow past what the last full collection left live: 100 % (a factor
 * of 2, what V8 itself uses when memory is tight). V8's own factor rises to 4 when the allocation rate is
 * high — a snapshot's — so a 10M-row snapshot with four readers peaked at 745 MB of RSS with ~100 MB live
 * (bench/README.md, "Memory"). Unlike the heap's sizes, this flag is read at every collection, so it still
 * takes effect when set after start-up.
 */
export const HEAP_GROWING_PERCENT = 100;

/**
 * The growth for `tributary sql`: 50 % (old generation at most 1.5 × live). A SQL job's live heap is its state's
 * cache and the changes since the last checkpoint, large and long-lived, so the garbage allowed on top of it is what
 * its memory varies with: seed 004's query at 10,000,000 source rows peaked at 685 MB of RSS with 100 % and 619 MB
 * with 50 %, and at 1,000,000 rows 545–563 against 514–517 MB, for no CPU per change the runs could tell apart
 * (bench/README.md, "A tighter heap growth for the SQL job").
 */
export const SQL_HEAP_GROWING_PERCENT = 50;

/**
 * Bounds the old generation's growth for this process to `percent` (see {@link HEAP_GROWING_PERCENT}), unless the
 * command line already sets `--heap-growing-percent`. For the CLI only: V8's flags are the whole process's, so a
 * library embedding Tributary leaves them to its host.
 */
export function boundHeapGrowth(
  execArgv: readonly string[] = process.execArgv,
  percent: number = HEAP_GROWING_PERCENT,
): void {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg))) return;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/**
 * The heap sizes the CLI starts with: `bin/tributary.js` passes these flags on its shebang line (a process's heap
 * sizes are fixed at start-up, so they cannot be set from here); keep the two equal. A young generation of
 * 2 × 32 MB, and an old generation whose first limit is 64 MB: with a snapshot's ~16 MB live and the limit at twice
 * that, the chunks' buffers (memory outside the JS heap that V8 counts against the old generation) set off a full
 * collection every ~10 MB, 22 per 1M rows; the pipeline spent 15–20 % less CPU with the larger start, for ~14 MB
 * of RSS (bench/README.md, "The old generation's first limit"). Processes with more live (a SQL job's state cache,
 * the apply path's batches) measured the same RSS with it: their limit is above 64 MB anyway. The benches that run
 * a pipeline in a process of their own start it with these flags, so that they measure what the CLI does.
 */
export const CLI_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32', '--initial-old-space-size=64'];
