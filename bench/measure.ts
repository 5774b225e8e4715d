/**
 * Small measuring helpers of the bench suite: medians, CPU time of server processes from /proc, and the
 * external floor pipe run under /usr/bin/time.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** The median (mean of the two middle values for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux (getconf CLK_TCK); /proc reports CPU times in these ticks

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** R, S, D, Z (zombie: exited, not yet reaped by its parent) … */
  readonly state: string;
  /** user + system of the process itself (all its threads), seconds. */
  readonly own: number;
  /** user + system of its children that it has waited for, seconds. */
  readonly reaped: number;
}

function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const field = (n: number): number => Number(fields[n - 3] ?? 0); // field numbers as in proc(5)
  return {
    pid,
    ppid: field(4),
    state: fields[0] ?? '?',
    own: (field(14) + field(15)) / CLOCK_TICKS,
    reaped: (field(16) + field(17)) / CLOCK_TICKS,
  };
}

function childrenOf(pid: number): ProcStat[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const children: ProcStat[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat !== undefined && stat.ppid === pid) children.push(stat);
  }
  return children;
}

/**
 * The CPU seconds a server has used so far: the process (all threads), the children it has reaped, and the
 * children still alive. MariaDB is one process with threads; PostgreSQL forks a backend per connection, and a
 * backend's time moves from "alive" to "reaped" when it exits, so the sum stays monotonic — except while a
 * backend is a zombie (exited, not yet reaped), whose time /proc does not show: this waits (up to 3 s) until
 * the server has reaped its exited children. Undefined when the pid is unknown (no /proc, or the pid file is
 * unreadable).
 */
export async function serverCpuSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const deadline = performance.now() + 3_000;
  for (;;) {
    const self = readProcStat(pid);
    if (self === undefined) return undefined;
    const children = childrenOf(pid);
    if (children.some((c) => c.state === 'Z' || c.state === 'X') && performance.now() < deadline) {
      await sleep(20);
      continue;
    }
    // Read the parent again after the children: a child reaped in between is then counted once, as reaped.
    const again = readProcStat(pid) ?? self;
    const alive = children.filter((c) => readProcStat(c.pid) !== undefined);
    return again.own + again.reaped + alive.reduce((sum, c) => sum + c.own, 0);
  }
}

/** Peak RSS of a running process in MB (VmHWM); NaN without a pid. */
export function peakRssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 1024);
}

/** The pid of an embedded server, from its pid file: mariadbd.pid beside the data directory, postmaster.pid in it. */
export function embeddedServerPid(kind: 'mariadb' | 'postgres', dataDir: string): number | undefined {
  const file = kind === 'mariadb' ? join(dirname(dataDir), 'mariadbd.pid') : join(dataDir, 'postmaster.pid');
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]?.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Quotes one word for /bin/sh. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface ExternalRun {
  readonly seconds: number;
  /** user + system of every process of the pipe (from wait4 of /usr/bin/time), seconds. */
  readonly cpuSeconds: number | undefined;
  /** Peak RSS of the largest single process of the pipe, MB (what RUSAGE_CHILDREN reports). */
  readonly maxRssMb: number | undefined;
  readonly stdout: string;
}

/**
 * Runs a bash pipeline (with pipefail), timed here and measured by /usr/bin/time when it exists. Rejects with
 * its stderr on a non-zero exit.
 */
export async function runExternalPipe(script: string, env: NodeJS.ProcessEnv): Promise<ExternalRun> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-time-'));
  const timeFile = join(dir, 'time.txt');
  const useTime = isExecutable('/usr/bin/time');
  const command = useTime ? '/usr/bin/time' : 'bash';
  const args = useTime
    ? ['-o', timeFile, '-f', '%U %S %M', 'bash', '-c', `set -o pipefail; ${script}`]
    : ['-c', `set -o pipefail; ${script}`];
  try {
    const started = performance.now();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
        child.once('error', reject);
        child.once('close', (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
      },
    );
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`the pipe failed (exit ${code}): ${(stderr.trim() || stdout.trim()).slice(-1000)}`);
    let cpuSeconds: number | undefined;
    let maxRssMb: number | undefined;
    if (useTime) {
      const fields = (await readFile(timeFile, 'utf8')).trim().split('\n').pop()?.split(' ').map(Number) ?? [];
      const [user, system, rssKb] = fields;
      if (user !== undefined && system !== undefined) cpuSeconds = user + system;
      if (rssKb !== undefined) maxRssMb = rssKb / 1024;
    }
    return { seconds, cpuSeconds, maxRssMb, stdout };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
