import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A private database server on a free port of 127.0.0.1 with its own temporary data directory, for the demo and
 * the integration tests. Nothing of it outlives `stop()`; if the owning process dies first, the server is killed
 * and its directory removed all the same (an exit hook, and a guardian process that notices the parent's death).
 */
export interface EmbeddedServer {
  readonly kind: 'mariadb' | 'postgres';
  readonly host: string;
  /** Stays the same across `pause()` / `resume()` / `restart()`. */
  readonly port: number;
  /** An administrator: may create databases and users and grant any privilege. */
  readonly user: string;
  readonly password: string;
  /** `mysql://user:password@127.0.0.1:port` or `postgres://user@127.0.0.1:port/postgres`. */
  readonly url: string;
  readonly dataDir: string;
  /** Stops the server and deletes its data directory. Idempotent. */
  stop(): Promise<void>;
  /** Stops the server process but keeps its data (a source or sink outage). No-op when already paused. */
  pause(): Promise<void>;
  /** Starts the paused server again on the same port and data directory; resolves once it accepts connections. */
  resume(): Promise<void>;
  /** `pause()` then `resume()`. */
  restart(): Promise<void>;
}

export interface EmbeddedServerOptions {
  /** Parent of the temporary directory (default `os.tmpdir()`); must be traversable by the `mysql` / `postgres` OS user when running as root. */
  baseDir?: string;
  /** Receives the server's own output and the harness's progress lines. */
  log?: (line: string) => void;
}

/** An OS account that a server process runs as (servers refuse to run as root). */
export interface OsAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

const STARTUP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const OUTPUT_LINES_KEPT = 40;
const SERVER_DIRS = [
  '/usr/sbin',
  '/usr/bin',
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/local/mysql/bin',
  '/opt/homebrew/bin',
];

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Binds port 0 on 127.0.0.1 and releases it: a port that was free a moment ago. */
export async function findFreePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not obtain a free port'))));
    });
  });
}

/** The first executable among `names` (in order of preference) found in `dirs` and then in PATH. */
export function findExecutable(names: readonly string[], dirs: readonly string[] = SERVER_DIRS): string | undefined {
  const searchPath = [...dirs, ...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '')];
  for (const name of names) {
    for (const dir of searchPath) {
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The directory holding `initdb` and `postgres`: the highest version under /usr/lib/postgresql (Debian's layout,
 * where /usr/bin has only wrappers), else wherever an `initdb` in PATH really lives (symlinks resolved).
 */
export function findPostgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    // not Debian's layout
  }
  versions.sort((a, b) => Number(b) - Number(a));
  const candidates = versions.map((v) => join(root, v, 'bin'));
  const initdb = findExecutable(['initdb'], ['/usr/local/pgsql/bin', ...SERVER_DIRS]);
  if (initdb !== undefined) candidates.push(dirname(realpathSync(initdb)));
  return candidates.find((dir) => isExecutable(join(dir, 'initdb')) && isExecutable(join(dir, 'postgres')));
}

/** The account from /etc/passwd, or undefined. */
export function findOsAccount(name: string): OsAccount | undefined {
  let passwd: string;
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) return { name, uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

let aptQueue: Promise<unknown> = Promise.resolve();
let aptUpdated = false;

/**
 * Installs Debian packages when we are root and apt-get exists; returns false (doing nothing) otherwise.
 * Calls are serialised (dpkg takes one lock). The packages' own auto-started services are left alone: the
 * embedded servers use their own ports, sockets and data directories, and `--no-defaults` ignores /etc/mysql.
 */
export async function aptInstall(packages: readonly string[], log: (line: string) => void): Promise<boolean> {
  if (!isRoot() || findExecutable(['apt-get']) === undefined) return false;
  const run = aptQueue.then(async () => {
    log(`installing ${packages.join(' ')} with apt-get (binaries not found)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!aptUpdated) {
      await runCommand('apt-get', ['update'], { env, log });
      aptUpdated = true;
    }
    await runCommand('apt-get', ['install', '-y', ...packages], { env, log });
  });
  aptQueue = run.catch(() => undefined);
  await run;
  return true;
}

/** Explains what to install, or which variables point the tests at existing servers instead. */
export function missingBinariesError(what: string): Error {
  return new Error(
    `${what} not found. Install the servers with \`apt-get install mariadb-server postgresql\` (Debian/Ubuntu; ` +
      `run as root and the harness installs them itself), or use existing servers by setting ` +
      `TRIBUTARY_TEST_MYSQL_URL=mysql://user:password@host:port and ` +
      `TRIBUTARY_TEST_POSTGRES_URL=postgres://user:password@host:port/postgres ` +
      `(binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL; wal_level=logical).`,
  );
}

/** A fresh `0700` directory `<baseDir>/<prefix>XXXXXX`, owned by `account` when given. */
export async function makeTempDir(prefix: string, baseDir: string | undefined, account?: OsAccount): Promise<string> {
  const dir = await mkdtemp(join(baseDir ?? tmpdir(), prefix));
  if (account !== undefined) await chown(dir, account.uid, account.gid);
  return dir;
}

export async function makeOwnedDir(path: string, account?: OsAccount): Promise<void> {
  await mkdir(path, { mode: 0o700 });
  if (account !== undefined) await chown(path, account.uid, account.gid);
}

interface CommandOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  account?: OsAccount | undefined;
  log?: (line: string) => void;
}

/** Runs a command to completion; rejects with the end of its output when it fails. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<void> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.account ? { uid: options.account.uid, gid: options.account.gid } : {}),
  });
  const output = captureOutput(child.stdout, child.stderr, options.log);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  });
  if (code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit code ${code}`}):\n${output.tail()}`);
  }
}

interface OutputCapture {
  tail(): string;
}

function captureOutput(
  stdout: NodeJS.ReadableStream | null,
  stderr: NodeJS.ReadableStream | null,
  log: ((line: string) => void) | undefined,
): OutputCapture {
  const lines: string[] = [];
  for (const stream of [stdout, stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      lines.push(line);
      if (lines.length > OUTPUT_LINES_KEPT) lines.shift();
      log?.(line);
    });
  }
  return { tail: () => lines.join('\n') };
}

/** How one server kind is started, probed and stopped; `launchEmbeddedServer` does the rest. */
export interface ServerLaunchSpec {
  readonly kind: EmbeddedServer['kind'];
  readonly user: string;
  readonly password: string;
  readonly host: string;
  /** Removed by `stop()`; contains `dataDir`. */
  readonly rootDir: string;
  readonly dataDir: string;
  readonly command: string;
  argsFor(port: number): string[];
  urlFor(port: number): string;
  readonly account: OsAccount | undefined;
  /** Sent in turn by `pause()` / `stop()`, each after the previous one timed out. */
  readonly stopSignals: readonly NodeJS.Signals[];
  /** Sent to a still-running server when this process exits without having stopped it. */
  readonly exitSignal: NodeJS.Signals;
  /** Resolves once the server answers a query on `port`; it is called repeatedly until then. */
  probe(port: number): Promise<void>;
  readonly log: (line: string) => void;
}

/**
 * Starts the server on a free port (trying another port if the chosen one was taken meanwhile) and returns
 * its handle. On failure everything is cleaned up, the temporary directory included.
 */
export async function launchEmbeddedServer(spec: ServerLaunchSpec): Promise<EmbeddedServer> {
  const guardian = startGuardian(spec.rootDir, spec.exitSignal);
  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort();
    const supervisor = new ServerSupervisor(spec, port, guardian);
    try {
      await supervisor.resume();
      return supervisor;
    } catch (error) {
      await supervisor.pause().catch(() => undefined);
      if (attempt < 3 && error instanceof PortTakenError) continue;
      await supervisor.stop().catch(() => undefined);
      throw error;
    }
  }
}

class PortTakenError extends Error {}

class ServerSupervisor implements EmbeddedServer {
  readonly kind: EmbeddedServer['kind'];
  readonly host: string;
  readonly user: string;
  readonly password: string;
  readonly url: string;
  readonly dataDir: string;
  private running: RunningProcess | undefined;
  private stopped = false;

  constructor(
    private readonly spec: ServerLaunchSpec,
    readonly port: number,
    private readonly guardian: Guardian,
  ) {
    this.kind = spec.kind;
    this.host = spec.host;
    this.user = spec.user;
    this.password = spec.password;
    this.url = spec.urlFor(port);
    this.dataDir = spec.dataDir;
  }

  async resume(): Promise<void> {
    if (this.stopped) throw new Error(`the embedded ${this.kind} server was stopped; start a new one`);
    if (this.running !== undefined) return;
    const started = performance.now();
    const running = startProcess(this.spec, this.port, this.guardian);
    this.running = running;
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      if (running.exit !== undefined) {
        this.running = undefined;
        const output = running.output.tail();
        const message = `the embedded ${this.kind} server exited during startup (${running.exit}):\n${output}`;
        throw /Address already in use|errno: 98|error: 98/.test(output)
          ? new PortTakenError(message)
          : new Error(message);
      }
      try {
        await this.spec.probe(this.port);
        break;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(
            `the embedded ${this.kind} server did not accept connections within ${STARTUP_TIMEOUT_MS} ms:\n${running.output.tail()}`,
            { cause: error },
          );
        }
        await Promise.race([sleep(50), running.exited]);
      }
    }
    this.spec.log(
      `${this.kind} ready on ${this.host}:${this.port} in ${Math.round(performance.now() - started)} ms (pid ${running.pid})`,
    );
  }

  async pause(): Promise<void> {
    const running = this.running;
    if (running === undefined) return;
    for (const signal of this.spec.stopSignals) {
      if (running.exit !== undefined) break;
      running.kill(signal);
      await Promise.race([running.exited, sleep(STOP_TIMEOUT_MS, undefined, { ref: false })]);
    }
    await running.exited;
    this.running = undefined;
  }

  async restart(): Promise<void> {
    await this.pause();
    await this.resume();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.pause();
    this.stopped = true;
    await rm(this.spec.rootDir, { recursive: true, force: true, maxRetries: 3 });
    this.guardian.release();
  }
}

interface RunningProcess {
  readonly pid: number;
  readonly exited: Promise<void>;
  /** Set once the process has exited: `exit code N` or the signal's name. */
  readonly exit: string | undefined;
  readonly output: OutputCapture;
  kill(signal: NodeJS.Signals): void;
}

function startProcess(spec: ServerLaunchSpec, port: number, guardian: Guardian): RunningProcess {
  const child = spawn(spec.command, spec.argsFor(port), {
    cwd: spec.rootDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(spec.account ? { uid: spec.account.uid, gid: spec.account.gid } : {}),
  });
  const output = captureOutput(child.stdout, child.stderr, (line) => spec.log(`[${spec.kind}] ${line}`));
  const state: { exit: string | undefined } = { exit: undefined };
  const pid = child.pid ?? -1;
  const exited = new Promise<void>((resolve) => {
    const done = (exit: string): void => {
      if (state.exit !== undefined) return;
      state.exit = exit;
      liveProcesses.delete(pid);
      guardian.watch(undefined);
      resolve();
    };
    child.once('error', (error) => done(error.message));
    child.once('exit', (code, signal) => done(signal ?? `exit code ${code}`));
  });
  if (pid > 0) {
    liveProcesses.set(pid, spec.exitSignal);
    installExitHook();
    guardian.watch(pid);
  }
  return {
    pid,
    exited,
    get exit() {
      return state.exit;
    },
    output,
    kill: (signal) => {
      if (state.exit === undefined) child.kill(signal);
    },
  };
}

/** Running server processes and the signal that the exit hook sends them. */
const liveProcesses = new Map<number, NodeJS.Signals>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [pid, signal] of liveProcesses) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  });
}

interface Guardian {
  /** The pid to kill should this process die; undefined while no server runs. */
  watch(pid: number | undefined): void;
  /** Normal end: the server is stopped and its directory removed; the guardian exits doing nothing. */
  release(): void;
}

/**
 * A detached shell that reads pids from a pipe. When this process dies however it dies (even SIGKILL, which
 * skips exit hooks) the pipe closes and the shell stops the last server it was told about and removes its
 * directory, so that neither a server nor hundreds of megabytes of data files are left behind.
 */
function startGuardian(dir: string, signal: NodeJS.Signals): Guardian {
  const script = [
    'pid=""',
    'while IFS= read -r line; do',
    '  if [ "$line" = release ]; then exit 0; fi',
    '  pid="$line"',
    'done',
    'if [ -n "$pid" ]; then',
    `  kill -s ${signal.replace(/^SIG/, '')} "$pid" 2>/dev/null`,
    '  i=0',
    '  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done',
    '  kill -s KILL "$pid" 2>/dev/null',
    'fi',
    'rm -rf -- "$1"',
  ].join('\n');
  const child = spawn('/bin/sh', ['-c', script, 'tributary-guardian', dir], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.on('error', () => undefined);
  child.unref();
  const stdin = child.stdin;
  stdin?.on('error', () => undefined);
  (stdin as Socket | null)?.unref();
  return {
    watch: (pid) => stdin?.write(`${pid ?? ''}\n`),
    release: () => stdin?.end('release\n'),
  };
}
