import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createConnection } from 'mysql2/promise';
import {
  aptInstall,
  findExecutable,
  findOsAccount,
  isRoot,
  launchEmbeddedServer,
  makeOwnedDir,
  makeTempDir,
  missingBinariesError,
  runCommand,
  type EmbeddedServer,
  type EmbeddedServerOptions,
  type OsAccount,
} from './embedded-server.js';

interface MariadbBinaries {
  readonly server: string;
  readonly installDb: string;
}

function findMariadbBinaries(): MariadbBinaries | undefined {
  const server = findExecutable(['mariadbd', 'mysqld']);
  const installDb = findExecutable(['mariadb-install-db', 'mysql_install_db']);
  return server !== undefined && installDb !== undefined ? { server, installDb } : undefined;
}

/**
 * Starts a private MariaDB with the binlog set up for CDC (ROW format, FULL row image and row metadata, GTID
 * strict mode) on a free port of 127.0.0.1, in a new data directory under `os.tmpdir()`.
 *
 * The administrator is `root` with a generated password (every `root@…` account of the fresh data directory
 * gets it), holding all privileges with GRANT OPTION; grant tables are on, so tests can create users with
 * limited privileges. There is no `test` database and no anonymous user (`--skip-test-db`), so a limited
 * user's privileges are exactly what was granted. When this process runs as root the server runs as the
 * `mysql` OS user (or `--user=root` where no such user exists).
 *
 * Installs `mariadb-server` with apt-get when the binaries are missing and we are root on Debian.
 */
export async function startEmbeddedMariadb(
  options: EmbeddedServerOptions & {
    /** More server options, after (and so overriding) the defaults: `--server-id=2` for a replica. */
    readonly extraArgs?: readonly string[];
    /** Server options after the defaults, e.g. `--ssl-cert=…` and `--require-secure-transport=ON`. */
    readonly serverArgs?: readonly string[];
    /** Whether the harness's own connections (the readiness probe) use TLS: needed with require_secure_transport. */
    readonly adminTls?: boolean;
  } = {},
): Promise<EmbeddedServer> {
  const log = options.log ?? (() => undefined);
  let binaries = findMariadbBinaries();
  if (binaries === undefined && (await aptInstall(['mariadb-server'], options.log ?? ((line) => console.warn(line))))) {
    binaries = findMariadbBinaries();
  }
  if (binaries === undefined) throw missingBinariesError('MariaDB server binaries (mariadbd, mariadb-install-db)');

  const started = performance.now();
  // mariadbd refuses to run as root unless told `--user=root`; it drops to `--user` itself after starting.
  const account: OsAccount | undefined = isRoot() ? findOsAccount('mysql') : undefined;
  const userArgs = isRoot() ? [`--user=${account?.name ?? 'root'}`] : [];
  const rootDir = await makeTempDir('tributary-mariadb-', options.baseDir, account);
  const dataDir = join(rootDir, 'data');
  const password = randomBytes(12).toString('hex');
  try {
    await makeOwnedDir(dataDir, account);
    // Runs in bootstrap mode, where account statements are unavailable: set the password in the grant table.
    const initFile = join(rootDir, 'init.sql');
    await writeFile(
      initFile,
      `UPDATE mysql.global_priv SET priv = JSON_SET(priv, '$.plugin', 'mysql_native_password', ` +
        `'$.authentication_string', PASSWORD('${password}')) WHERE User = 'root';\n`,
      { mode: 0o600 },
    );
    await runCommand(
      binaries.installDb,
      [
        '--no-defaults',
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        '--skip-name-resolve',
        `--datadir=${dataDir}`,
        `--extra-file=${initFile}`,
        ...userArgs,
      ],
      { cwd: rootDir, log: (line) => log(`[mariadb-install-db] ${line}`) },
    );
    await rm(initFile, { force: true });
  } catch (error) {
    await rm(rootDir, { recursive: true, force: true });
    throw error;
  }

  const host = '127.0.0.1';
  const server = await launchEmbeddedServer({
    kind: 'mariadb',
    host,
    user: 'root',
    password,
    rootDir,
    dataDir,
    command: binaries.server,
    account: undefined, // started as ourselves; `--user` makes it switch
    argsFor: (port) => [
      '--no-defaults',
      ...userArgs,
      `--datadir=${dataDir}`,
      `--port=${port}`,
      `--bind-address=${host}`,
      `--socket=${join(rootDir, 'mysql.sock')}`,
      `--pid-file=${join(rootDir, 'mariadbd.pid')}`,
      // Its own directory for on-disk temporary tables (information_schema over 10,000 tables needs them), not the
      // /tmp every other server of the machine shares.
      `--tmpdir=${rootDir}`,
      '--log-bin=mysql-bin',
      '--binlog-format=ROW',
      '--binlog-row-image=FULL',
      '--binlog-row-metadata=FULL',
      '--server-id=1',
      '--log-slave-updates',
      '--gtid-strict-mode=ON',
      '--innodb-buffer-pool-size=256M',
      '--innodb-flush-log-at-trx-commit=2',
      '--skip-name-resolve',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci',
      '--max-connections=500',
      ...(options.extraArgs ?? []),
      ...(options.serverArgs ?? []),
    ],
    urlFor: (port) => `mysql://root:${password}@${host}:${port}`,
    stopSignals: ['SIGTERM', 'SIGKILL'],
    exitSignal: 'SIGKILL',
    probe: async (port) => {
      const connection = await createConnection({
        host,
        port,
        user: 'root',
        password,
        connectTimeout: 2_000,
        ...(options.adminTls === true ? { ssl: { rejectUnauthorized: false } } : {}),
      });
      connection.on('error', () => undefined); // a probe of a server that goes away: the query reports it
      try {
        await connection.query('SELECT 1');
      } finally {
        await connection.end();
      }
    },
    log,
  });
  log(`mariadb: install-db + start took ${Math.round(performance.now() - started)} ms, data in ${dataDir}`);
  return server;
}
