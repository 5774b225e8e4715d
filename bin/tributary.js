#!/usr/bin/env -S node --max-semi-space-size=32 --initial-old-space-size=64
// A young generation of 2 × 32 MB instead of Node's 2 × 16 MB: a snapshot allocates rows faster than the default
// scavenges keep up with, and ~25 % of the pipeline's CPU went to the GC (bench/README.md, issue 16). An old
// generation that starts at 64 MB: a snapshot's chunk buffers, counted against a ~16 MB live heap, made a full
// collection every ~10 MB (CLI_NODE_FLAGS in src/cli/heap-growth.ts: keep the two equal).
import { main } from '../dist/cli/main.js';

// tuneHeap: the old generation grows to at most twice what is live, a SQL job's to 1.5 times (src/cli/heap-growth.ts):
// bounded memory without capping the heap.
process.exitCode = await main(process.argv.slice(2), { tuneHeap: true });
