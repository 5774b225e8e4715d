import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  aptInstall,
  findOsAccount,
  findPostgresBinDir,
  isRoot,
  launchEmbeddedServer,
  makeTempDir,
  runCommand,
  missingBinariesError,
  type EmbeddedServer,
  type EmbeddedServerOptions,
  type OsAccount,
} from './embedded-server.js';

/**
 * Starts a private PostgreSQL (the highest installed version) with `wal_level=logical` on a free port of
 * 127.0.0.1, in a new data directory under `os.tmpdir()`. Durability is traded for speed (`fsync=off`,
 * `synchronous_commit=off`, `full_page_writes=off`): a crash of the machine loses it, a crash of the server
 * does not.
 *
 * The administrator is the `postgres` superuser; authentication is `trust` (no password) on 127.0.0.1 only.
 * PostgreSQL refuses to run as root, so when this process is root the server runs as the `postgres` OS user.
 * Installs `postgresql` with apt-get when the binaries are missing and we are root on Debian.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedServerOptions & {
    /**
     * Server settings passed as `-c key=value` after the defaults (a later one wins), e.g.
     * `{ max_locks_per_transaction: '10' }` for a server with a small lock table.
     */
    readonly settings?: Readonly<Record<string, string>>;
    /**
     * Whether the readiness probe connects through the Unix socket in the server's directory (the parent of
     * `dataDir`) instead of TCP: for a server whose `hba_file` admits TCP connections only with TLS certificates.
     */
    readonly probeBySocket?: boolean;
  } = {},
): Promise<EmbeddedServer> {
  const log = options.log ?? (() => undefined);
  let binDir = findPostgresBinDir();
  if (binDir === undefined && (await aptInstall(['postgresql'], options.log ?? ((line) => console.warn(line))))) {
    binDir = findPostgresBinDir();
  }
  if (binDir === undefined) throw missingBinariesError('PostgreSQL server binaries (initdb, postgres)');

  let account: OsAccount | undefined;
  if (isRoot()) {
    account = findOsAccount('postgres');
    if (account === undefined) {
      throw new Error(
        'PostgreSQL cannot run as root and there is no `postgres` OS user to run it as: ' +
          'create one (`useradd --system postgres`) or run as an ordinary user.',
      );
    }
  }

  const started = performance.now();
  const rootDir = await makeTempDir('tributary-postgres-', options.baseDir, account);
  const dataDir = join(rootDir, 'data');
  try {
    await runCommand(
      join(binDir, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { cwd: rootDir, account, env: { ...process.env, LC_ALL: 'C' }, log: (line) => log(`[initdb] ${line}`) },
    );
  } catch (error) {
    await rm(rootDir, { recursive: true, force: true });
    throw error;
  }

  const host = '127.0.0.1';
  const server = await launchEmbeddedServer({
    kind: 'postgres',
    host,
    user: 'postgres',
    password: '',
    rootDir,
    dataDir,
    command: join(binDir, 'postgres'),
    account,
    argsFor: (port) => [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      rootDir,
      '-c',
      `listen_addresses=${host}`,
      '-c',
      'wal_level=logical',
      '-c',
      'max_wal_senders=10',
      '-c',
      'max_replication_slots=10',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'shared_buffers=256MB',
      '-c',
      'max_connections=300',
      ...Object.entries(options.settings ?? {}).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
    ],
    urlFor: (port) => `postgres://postgres@${host}:${port}/postgres`,
    // SIGTERM ("smart") would wait for every client to disconnect; SIGINT ("fast") disconnects them and
    // shuts down cleanly; SIGQUIT ("immediate") makes the postmaster take its children down with it.
    stopSignals: ['SIGINT', 'SIGQUIT', 'SIGKILL'],
    exitSignal: 'SIGQUIT',
    probe: async (port) => {
      const client = new pg.Client({
        host: options.probeBySocket === true ? rootDir : host,
        port,
        user: 'postgres',
        database: 'postgres',
        connectionTimeoutMillis: 2_000,
      });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    log,
  });
  log(`postgres: initdb + start took ${Math.round(performance.now() - started)} ms, data in ${dataDir}`);
  return server;
}
