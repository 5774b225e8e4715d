import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createConnection, type Connection } from 'mysql2/promise';
import pg from 'pg';
import { startEmbeddedMariadb } from '../../src/embedded/embedded-mariadb.js';
import { startEmbeddedPostgres } from '../../src/embedded/embedded-postgres.js';
import { findOsAccount, isRoot, type EmbeddedServer } from '../../src/embedded/embedded-server.js';
import { tolerateDisconnects } from './databases.js';

/** PEM files of a test PKI: one CA, server certificates and client certificates, all signed by the CA. */
export interface TestCertificates {
  readonly dir: string;
  readonly caCert: string;
  /** Server certificate naming 127.0.0.1 and localhost (subjectAltName), and its key. */
  readonly serverCert: string;
  readonly serverKey: string;
  /** Server certificate naming only `wrong.example`: verify-identity against 127.0.0.1 must fail. */
  readonly wrongNameCert: string;
  readonly wrongNameKey: string;
  /** Server certificate naming 127.0.0.1, signed by the CA, that expired yesterday. */
  readonly expiredCert: string;
  readonly expiredKey: string;
  /** A CA of its own that signed nothing here: verify-ca with it must fail. */
  readonly otherCaCert: string;
  /** Client certificate (CN = `name`: the PostgreSQL role it logs in as) and its key, made on first use. */
  client(name: string): { readonly cert: string; readonly key: string };
  /** Deletes the directory. */
  remove(): void;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/**
 * Generates the PKI with `openssl` in a new directory under the OS temp directory (not the run's temp root:
 * the servers' OS accounts must be able to read the files).
 */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-tls-'));
  chmodSync(dir, 0o755);
  const ca = (name: string) => {
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '3',
        '-subj',
        `/CN=${name}`,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.crt`,
      ],
      dir,
    );
  };
  const issue = (name: string, cn: string, extensions: string | undefined, days = '3') => {
    openssl(
      ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`],
      dir,
    );
    const args = [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      days,
      '-out',
      `${name}.crt`,
    ];
    if (extensions !== undefined) {
      writeFileSync(join(dir, `${name}.ext`), extensions);
      args.push('-extfile', `${name}.ext`);
    }
    openssl(args, dir);
    chmodSync(join(dir, `${name}.key`), 0o644);
  };
  ca('ca');
  ca('other-ca');
  issue('server', 'tributary-test-server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  issue('wrong-name', 'wrong.example', 'subjectAltName=DNS:wrong.example\n');
  issue('expired', 'tributary-expired', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n', '-1');
  const clients = new Map<string, { cert: string; key: string }>();
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    wrongNameCert: join(dir, 'wrong-name.crt'),
    wrongNameKey: join(dir, 'wrong-name.key'),
    otherCaCert: join(dir, 'other-ca.crt'),
    expiredCert: join(dir, 'expired.crt'),
    expiredKey: join(dir, 'expired.key'),
    client(name) {
      let found = clients.get(name);
      if (found === undefined) {
        issue(`client-${name}`, name, 'extendedKeyUsage=clientAuth\n');
        found = { cert: join(dir, `client-${name}.crt`), key: join(dir, `client-${name}.key`) };
        clients.set(name, found);
      }
      return found;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A private MariaDB that accepts TLS connections only (`require_secure_transport=ON`). */
export interface TlsMariadb {
  readonly server: EmbeddedServer;
  readonly port: number;
  /** An administrator connection (TLS, no certificate check), `multipleStatements`; close it with `end()`. */
  admin(): Promise<Connection>;
}

export async function startTlsMariadb(
  certs: TestCertificates,
  serverCert: { readonly cert: string; readonly key: string } = { cert: certs.serverCert, key: certs.serverKey },
): Promise<TlsMariadb> {
  const server = await startEmbeddedMariadb({
    serverArgs: [
      `--ssl-ca=${certs.caCert}`,
      `--ssl-cert=${serverCert.cert}`,
      `--ssl-key=${serverCert.key}`,
      '--require-secure-transport=ON',
      // performance_schema.status_by_thread shows each connection's Ssl_cipher (the binlog connection's too).
      '--performance-schema=ON',
    ],
    adminTls: true,
  });
  return {
    server,
    port: server.port,
    admin: async () =>
      tolerateDisconnects(
        await createConnection({
          host: server.host,
          port: server.port,
          user: server.user,
          password: server.password,
          ssl: { rejectUnauthorized: false },
          multipleStatements: true,
        }),
      ),
  };
}

/**
 * A private PostgreSQL with `ssl=on` whose pg_hba.conf admits TCP connections only as `hostssl … cert` (a client
 * certificate whose CN is the role, signed by the test CA) and has no `host` line; the administrator connects
 * through the Unix socket (`local … trust`).
 */
export interface TlsPostgres {
  readonly server: EmbeddedServer;
  readonly port: number;
  /** The superuser, through the Unix socket, on `database` (default `postgres`); close it with `end()`. */
  admin(database?: string): Promise<pg.Client>;
}

export async function startTlsPostgres(certs: TestCertificates): Promise<TlsPostgres> {
  // PostgreSQL reads its key only when the server's OS user owns it and nobody else may read it.
  const dir = join(certs.dir, `postgres-${Date.now().toString(36)}`);
  mkdirSync(dir, { mode: 0o755 });
  const account = isRoot() ? findOsAccount('postgres') : undefined;
  const own = (path: string, mode: number) => {
    chmodSync(path, mode);
    if (account !== undefined) chownSync(path, account.uid, account.gid);
  };
  const key = join(dir, 'server.key');
  const cert = join(dir, 'server.crt');
  const ca = join(dir, 'ca.crt');
  const hba = join(dir, 'pg_hba.conf');
  copyFileSync(certs.serverKey, key);
  copyFileSync(certs.serverCert, cert);
  copyFileSync(certs.caCert, ca);
  writeFileSync(hba, 'local all all trust\nhostssl all all 127.0.0.1/32 cert\n');
  own(key, 0o600);
  own(cert, 0o644);
  own(ca, 0o644);
  own(hba, 0o644);
  const server = await startEmbeddedPostgres({
    settings: { ssl: 'on', ssl_cert_file: cert, ssl_key_file: key, ssl_ca_file: ca, hba_file: hba },
    probeBySocket: true,
  });
  const socketDir = dirname(server.dataDir);
  return {
    server,
    port: server.port,
    admin: async (database = 'postgres') => {
      const client = tolerateDisconnects(
        new pg.Client({ host: socketDir, port: server.port, user: 'postgres', database }),
      );
      await client.connect();
      return client;
    },
  };
}
