import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../src/embedded/embedded-server.js';
import { startCli, writePipelineFile, type CliProcess } from './harness/cli-process.js';
import { freshPostgresDatabase, mysqlAdmin, uniqueName, type FreshPostgresDatabase } from './harness/databases.js';
import {
  createItemsTable,
  describeWriter,
  faultPipelineYaml,
  installRevisionAudit,
  readRevisionAudit,
  report,
  seededRandom,
  seedFromEnv,
  sinkCheckpoint,
  startWriter,
  waitForEqual,
  type Writer,
} from './harness/faults.js';

/**
 * Issue 4, "Disk full or unwritable state dir": `pipeline.state.dir` below a regular file (ENOTDIR), on a
 * read-only file system, or on a full disk → STATE_DIR_UNWRITABLE with the fix, before anything moves; and
 * when the disk fills while the pipeline runs, it stops with the same error and nothing is lost: after
 * freeing space, the restart ends with the target equal to the source.
 *
 * The read-only and full cases mount a small tmpfs, which needs root (otherwise: read-only via chmod, and
 * the disk-full case is skipped with the reason).
 */
const SEED = seedFromEnv('TRIBUTARY_FAULT_SEED');
const PIPELINE = 'state-dir';
const ROWS = 2_000;

describe('state directory: unwritable, read-only, full', () => {
  const db = uniqueName('statedir');
  const table = `${db}.items`;
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let work: string;
  let cli: CliProcess | undefined;
  let writer: Writer | undefined;
  const mounts: string[] = [];
  const sinkQuery = () => sink.query.bind(sink);

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await createItemsTable(source, table, ROWS);
    sink = await freshPostgresDatabase('statedir');
    await installRevisionAudit(sinkQuery(), db);
    work = await mkdtemp(join(tmpdir(), 'tributary-state-dir-'));
  });

  afterAll(async () => {
    cli?.child.kill('SIGKILL');
    await writer?.stop();
    for (const dir of mounts.splice(0)) umount(dir);
    await rm(work, { recursive: true, force: true });
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  /** Writes a pipeline file for `stateDir` (outside it) and runs `tributary run` on it. */
  async function run(stateDir: string): Promise<{ cli: CliProcess; password: string }> {
    const { yaml, env } = await faultPipelineYaml({ name: PIPELINE, tables: table, sinkUrl: sink.url, stateDir });
    const file = await writePipelineFile(await mkdtemp(join(work, 'file-')), yaml);
    cli = startCli(['run', file], env);
    return { cli, password: env['FAULT_MYSQL_PASSWORD']! };
  }

  /** Runs and expects exit 1 with STATE_DIR_UNWRITABLE naming `stateDir`; returns the error lines. */
  async function expectUnwritable(stateDir: string, reason: RegExp): Promise<string> {
    const { cli, password } = await run(stateDir);
    const timer = setTimeout(() => cli.child.kill('SIGKILL'), 30_000);
    const exit = await cli.exited;
    clearTimeout(timer);
    const output = cli.output();
    expect(exit, output).toBe(1);
    const error = /\[STATE_DIR_UNWRITABLE\] .*\n\s+fix: .*/.exec(output)?.[0];
    expect(error, output).toBeDefined();
    expect(error).toContain(stateDir);
    expect(error).toMatch(reason);
    expect(error).toMatch(/fix: .*(free disk space|permissions|pipeline\.state\.dir)/);
    expect(output).not.toContain(password);
    return error!;
  }

  /** Nothing moved: no sink table for the source, no checkpoint of the pipeline. */
  async function expectNothingMoved(): Promise<void> {
    const tables = await sink.query(
      "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'tributary_audit')",
    );
    expect(tables.filter((t) => t['table_schema'] !== 'tributary')).toEqual([]);
    expect(await sinkCheckpoint(sinkQuery(), PIPELINE)).toBeNull();
  }

  it('state.dir below a regular file (ENOTDIR): STATE_DIR_UNWRITABLE with the fix, before anything moves', async () => {
    const file = join(work, 'a-regular-file');
    await writeFile(file, 'not a directory');
    const error = await expectUnwritable(join(file, 'state'), /ENOTDIR|not a directory/i);
    await expectNothingMoved();
    report(`state dir under a file: ${error.replace(/\n\s*/g, ' | ')}`);
  });

  it('state.dir on a read-only location: STATE_DIR_UNWRITABLE with the fix, before anything moves', async () => {
    const dir = join(work, 'ro-mount');
    await mkdir(dir);
    let expected: RegExp;
    if (isRoot()) {
      const failure = mount(dir, 'ro,size=64k');
      if (failure !== undefined) throw new Error(`running as root, but mounting a read-only tmpfs failed: ${failure}`);
      mounts.push(dir);
      expected = /EROFS|read-only file system|file system is read-only/i;
    } else {
      await chmod(dir, 0o555);
      expected = /permission denied|EACCES/i;
    }
    const error = await expectUnwritable(join(dir, 'state'), expected);
    await expectNothingMoved();
    report(`read-only state dir: ${error.replace(/\n\s*/g, ' | ')}`);
  });

  it('disk full: STATE_DIR_UNWRITABLE "disk is full" at start and while running; after freeing space nothing is lost', async (ctx) => {
    const dir = join(work, 'tiny');
    await mkdir(dir);
    const failure = isRoot() ? mount(dir, 'size=64k') : 'not running as root (mounting a tmpfs needs root)';
    if (failure !== undefined) {
      report(`disk-full case skipped: ${failure}`);
      ctx.skip(`disk-full case skipped: ${failure}`);
    }
    mounts.push(dir);
    const stateDir = join(dir, 'state');
    await mkdir(stateDir);
    const filler = join(dir, 'filler');

    // Full before the start: stops before anything moves.
    await fill(filler);
    const atStart = await expectUnwritable(stateDir, /the disk is full/);
    await expectNothingMoved();
    await rm(filler);

    // Space again: the pipeline runs, takes its snapshot, follows a writer.
    let { cli } = await run(stateDir);
    await waitForEqual(source, sinkQuery(), [table], { timeoutMs: 180_000, message: 'the snapshot' });
    writer = startWriter({ connect: () => mysqlAdmin(), tables: [table], random: seededRandom(SEED), maxId: ROWS });
    await writer.committed(50);

    // The disk fills while it runs: the next checkpoint cannot be saved locally, and the pipeline stops.
    const filling = fillWhile(filler, () => cli.child.exitCode === null && cli.child.signalCode === null);
    const timer = setTimeout(() => cli.child.kill('SIGKILL'), 30_000);
    const exit = await cli.exited;
    clearTimeout(timer);
    await filling;
    const output = cli.output();
    expect(exit, output).toBe(1);
    const whileRunning = /\[STATE_DIR_UNWRITABLE\] .*\n\s+fix: .*/.exec(output)?.[0];
    expect(whileRunning, output).toMatch(/the disk is full/);
    const stoppedAt = await sinkCheckpoint(sinkQuery(), PIPELINE);
    await writer.committed(50); // the source goes on while the pipeline is down

    // Space freed, restarted: it resumes from the sink's checkpoint and loses nothing.
    await rm(filler);
    ({ cli } = await run(stateDir));
    const writerStats = await writer.stop();
    writer = undefined;
    const comparison = await waitForEqual(source, sinkQuery(), [table], {
      timeoutMs: 180_000,
      message: 'the target to equal the source after space was freed',
    });
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.output()).toMatch(new RegExp(`resuming from checkpoint ${stoppedAt?.id ?? '\\d+'}\\b`));
    const audit = await readRevisionAudit(sinkQuery());
    expect(audit.regressions, audit.samples.join('\n')).toBe(0);
    report(`disk full at start: ${atStart.replace(/\n\s*/g, ' | ')}`);
    report(`disk full while running: exit ${exit}; ${whileRunning?.replace(/\n\s*/g, ' | ')}`);
    report(`  resumed from checkpoint ${stoppedAt?.id}; writer: ${describeWriter(writerStats)}`);
    report(`  ${comparison.summary()}; stale applies ${audit.regressions}`);
  }, 300_000);
});

/** Mounts a tmpfs at `dir`; returns why it failed, or undefined. */
function mount(dir: string, options: string): string | undefined {
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (result.error) return result.error.message;
  return result.status === 0 ? undefined : result.stderr.trim() || `mount exited with ${result.status}`;
}

function umount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

/** Appends to `file` until the file system says ENOSPC. */
async function fill(file: string): Promise<void> {
  const handle = await open(file, 'a');
  try {
    const block = Buffer.alloc(4096, 0x78);
    for (;;) {
      try {
        await handle.write(block);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
    // A partial block may still fit.
    for (let size = 2048; size >= 1; size >>= 1) await handle.write(Buffer.alloc(size)).catch(() => undefined);
  } finally {
    await handle.close();
  }
}

/** Keeps the file system full while `condition` holds: every page another writer frees is taken at once. */
async function fillWhile(file: string, condition: () => boolean): Promise<void> {
  while (condition()) {
    await fill(file);
    await sleep(2);
  }
}
