import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composePipeline } from '../src/composer/pipeline-composer.js';
import { parsePipelineYaml } from '../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../src/connectors/registry.js';
import { isTributaryError, type TributaryError } from '../src/core/index.js';
import { createLogger } from '../src/runtime/logger.js';
import { uniqueName, waitFor } from './harness/databases.js';
import { testTempDir } from './harness/temp-dirs.js';
import {
  makeTestCertificates,
  startTlsMariadb,
  startTlsPostgres,
  type TestCertificates,
  type TlsMariadb,
  type TlsPostgres,
} from './harness/tls-servers.js';

/**
 * Issue 18: TLS on every connection, against real servers that accept nothing else — a MariaDB with
 * `require_secure_transport=ON` and a CDC account `REQUIRE X509`, a PostgreSQL whose pg_hba.conf has only
 * `hostssl … cert` — and a certificate failure for each way TLS goes wrong, each with its own code.
 */
describe('TLS: MariaDB (TLS only, client certificate) → PostgreSQL (TLS only, client certificate)', () => {
  const db = uniqueName('tls');
  const sinkDb = uniqueName('tls_sink');
  const password = 'cdc-pw-7f3a';
  let certs: TestCertificates;
  let mariadb: TlsMariadb;
  let wrongName: TlsMariadb;
  let postgres: TlsPostgres;

  beforeAll(async () => {
    certs = makeTestCertificates();
    certs.client('cdc');
    certs.client('tributary_sink');
    certs.client('nobody');
    // One at a time: mariadb-install-db runs beside the global setup's servers on a small machine.
    postgres = await startTlsPostgres(certs);
    mariadb = await startTlsMariadb(certs);
    wrongName = await startTlsMariadb(certs, { cert: certs.wrongNameCert, key: certs.wrongNameKey });
    for (const server of [mariadb, wrongName]) {
      const admin = await server.admin();
      await admin.query(
        `CREATE USER 'cdc'@'%' IDENTIFIED BY '${password}' REQUIRE X509;
         GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cdc'@'%';
         CREATE USER 'cdc_pw'@'%' IDENTIFIED BY '${password}';
         GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cdc_pw'@'%';
         CREATE DATABASE ${db};
         CREATE TABLE ${db}.orders (id INT PRIMARY KEY, item VARCHAR(40), qty INT);
         INSERT INTO ${db}.orders VALUES (1, 'apple', 3), (2, 'pear', 5), (3, 'plum', 7);`,
      );
      await admin.end();
    }
    const admin = await postgres.admin();
    await admin.query('CREATE ROLE tributary_sink LOGIN');
    await admin.query(`CREATE DATABASE ${sinkDb} OWNER tributary_sink`);
    await admin.end();
  }, 240_000);

  afterAll(async () => {
    await Promise.all([mariadb?.server.stop(), wrongName?.server.stop(), postgres?.server.stop()]);
    certs?.remove();
  });

  const client = (name: string) => certs.client(name);

  /** The source block's TLS lines: `verify-identity` with the test CA and the `cdc` client certificate by default. */
  function sourceTls(overrides: Record<string, string | undefined> = {}): string {
    const lines: Record<string, string | undefined> = {
      'ssl-mode': 'verify-identity',
      'ssl-ca': certs.caCert,
      'ssl-cert': client('cdc').cert,
      'ssl-key': client('cdc').key,
      ...overrides,
    };
    return Object.entries(lines)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `  ${k}: ${v}`)
      .join('\n');
  }

  function sinkTls(overrides: Record<string, string | undefined> = {}): string {
    const lines: Record<string, string | undefined> = {
      sslmode: 'verify-full',
      sslrootcert: certs.caCert,
      sslcert: client('tributary_sink').cert,
      sslkey: client('tributary_sink').key,
      ...overrides,
    };
    return Object.entries(lines)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `  ${k}: ${v}`)
      .join('\n');
  }

  async function pipelineYaml(options: { source?: string; sink?: string; port?: number; user?: string }) {
    const stateDir = await testTempDir('tls-state');
    return `source:
  type: mysql
  hostname: 127.0.0.1
  port: ${options.port ?? mariadb.port}
  username: ${options.user ?? 'cdc'}
  password: \${CDC_PASSWORD}
  tables: ${db}.orders
  connect.timeout: 5s
${options.source ?? sourceTls()}
sink:
  type: postgres
  hostname: 127.0.0.1
  port: ${postgres.port}
  username: tributary_sink
  database: ${sinkDb}
  connect.timeout: 5s
${options.sink ?? sinkTls()}
pipeline:
  name: ${uniqueName('tls')}
  checkpoint.interval: 300ms
  state.dir: ${stateDir}
`;
  }

  function compose(yaml: string, logs: string[] = []) {
    const def = parsePipelineYaml(yaml, {
      file: 'tls.yaml',
      env: { CDC_PASSWORD: password },
      optionSpecsFor,
      knownTypes,
    });
    return composePipeline(def, {
      log: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
      maxRetries: 0,
    });
  }

  async function validateError(options: Parameters<typeof pipelineYaml>[0]): Promise<TributaryError> {
    try {
      await compose(await pipelineYaml(options)).validate();
    } catch (error) {
      if (isTributaryError(error)) return error;
      throw error;
    }
    throw new Error('validate passed but should have failed');
  }

  describe('the source', () => {
    it('a plain connection is refused (require_secure_transport): TLS_REQUIRED, naming ssl-mode', async () => {
      const error = await validateError({ source: '  ssl-mode: disabled', user: 'cdc_pw' });
      expect(error.code).toBe('TLS_REQUIRED');
      expect(error.hint).toContain('ssl-mode');
    });

    it('a plain connection of an account REQUIRE X509: SOURCE_AUTH_FAILED, naming ssl-mode and ssl-cert', async () => {
      const error = await validateError({ source: '  ssl-mode: disabled' });
      expect(error.code).toBe('SOURCE_AUTH_FAILED');
      expect(error.hint).toMatch(/ssl-mode.*ssl-cert/);
    });

    it('a CA that did not sign the server certificate: TLS_CERT_UNTRUSTED, naming ssl-ca', async () => {
      const error = await validateError({ source: sourceTls({ 'ssl-ca': certs.otherCaCert }) });
      expect(error.code).toBe('TLS_CERT_UNTRUSTED');
      expect(error.hint).toContain('ssl-ca');
    });

    it('verify-identity against a certificate for another name: TLS_HOSTNAME_MISMATCH', async () => {
      const error = await validateError({ port: wrongName.port });
      expect(error.code).toBe('TLS_HOSTNAME_MISMATCH');
      expect(error.message).toContain('does not name the host');
    });

    it('verify-ca checks the CA but not the name: the same server is accepted', async () => {
      const report = await compose(
        await pipelineYaml({ port: wrongName.port, source: sourceTls({ 'ssl-mode': 'verify-ca' }) }),
      ).validate();
      expect(report.checks.map((c) => c.message)).toContainEqual(
        expect.stringMatching(/^connection encrypted: TLSv1\.[23] \S+ \(ssl-mode verify-ca\)$/),
      );
    });

    it('an account REQUIRE X509 without a client certificate: SOURCE_AUTH_FAILED naming ssl-cert', async () => {
      const error = await validateError({ source: sourceTls({ 'ssl-cert': undefined, 'ssl-key': undefined }) });
      expect(error.code).toBe('SOURCE_AUTH_FAILED');
      expect(error.hint).toContain('ssl-cert');
    });

    it('the Flink CDC form jdbc.properties.sslMode: VERIFY_CA with ssl-ca and the client certificate is accepted', async () => {
      const report = await compose(
        await pipelineYaml({
          source: sourceTls({ 'ssl-mode': undefined, 'jdbc.properties.sslMode': 'VERIFY_CA' }),
        }),
      ).validate();
      expect(report.source).toBeDefined();
    });
  });

  describe('the sink', () => {
    it('a plain connection is refused by pg_hba.conf: TLS_REQUIRED, naming sslmode', async () => {
      const error = await validateError({ sink: '  sslmode: disable' });
      expect(error.code).toBe('TLS_REQUIRED');
      expect(error.hint).toContain('sslmode');
    });

    it('TLS without a client certificate: TLS_CLIENT_CERT_REJECTED, naming sslcert', async () => {
      const error = await validateError({ sink: sinkTls({ sslcert: undefined, sslkey: undefined }) });
      expect(error.code).toBe('TLS_CLIENT_CERT_REJECTED');
      expect(error.hint).toContain('sslcert');
    });

    it('a CA that did not sign the server certificate: TLS_CERT_UNTRUSTED, naming sslrootcert', async () => {
      const error = await validateError({ sink: sinkTls({ sslrootcert: certs.otherCaCert }) });
      expect(error.code).toBe('TLS_CERT_UNTRUSTED');
      expect(error.hint).toContain('sslrootcert');
    });
  });

  it("an expired server certificate: TLS_CERT_EXPIRED (an endpoint that answers PostgreSQL's SSLRequest)", async () => {
    // Only the TLS handshake matters here: a socket that says yes to the SSLRequest and then speaks TLS with a
    // certificate signed by the test CA for 127.0.0.1 that expired yesterday.
    const context = createSecureContext({
      cert: readFileSync(certs.expiredCert),
      key: readFileSync(certs.expiredKey),
    });
    const sockets = new Set<Socket>();
    const endpoint = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('data', () => {
        socket.write('S');
        const secure = new TLSSocket(socket, { isServer: true, secureContext: context });
        secure.on('error', () => undefined);
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    try {
      const yaml = (await pipelineYaml({})).replace(
        `  port: ${postgres.port}\n  username: tributary_sink`,
        `  port: ${(endpoint.address() as AddressInfo).port}\n  username: tributary_sink`,
      );
      const error = await compose(yaml)
        .validate()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toMatchObject({ code: 'TLS_CERT_EXPIRED', hint: expect.stringContaining('renew') });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => endpoint.close(() => resolve()));
    }
  });

  it('a pipeline runs snapshot and binlog end to end over TLS with client certificates on both sides', async () => {
    const logs: string[] = [];
    const pipeline = compose(await pipelineYaml({}), logs);
    const controller = new AbortController();
    const done = pipeline.run({ signal: controller.signal });
    done.catch(() => undefined);
    const sink = await postgres.admin(sinkDb);
    const rows = async () =>
      (
        await sink.query<{ id: number; item: string; qty: number }>(
          `SELECT id, item, qty FROM ${db}.orders ORDER BY id`,
        )
      ).rows;
    try {
      await waitFor(async () => (await rows()).length === 3, { message: 'the snapshot in the sink' });
      // Changes after the snapshot come through the binlog connection — which the server accepts over TLS only.
      const admin = await mariadb.admin();
      await admin.query(
        `INSERT INTO ${db}.orders VALUES (4, 'fig', 1); UPDATE ${db}.orders SET qty = 50 WHERE id = 2; DELETE FROM ${db}.orders WHERE id = 1;`,
      );
      // The binlog connection, seen from the server: the CDC account's Binlog Dump thread, and its cipher.
      const [dump] = await admin.query<RowDataPacket[]>(
        `SELECT s.VARIABLE_VALUE AS cipher FROM performance_schema.threads t
           JOIN performance_schema.status_by_thread s USING (THREAD_ID)
          WHERE t.PROCESSLIST_USER = 'cdc' AND t.PROCESSLIST_COMMAND LIKE 'Binlog Dump%' AND s.VARIABLE_NAME = 'Ssl_cipher'`,
      );
      await admin.end();
      await waitFor(
        async () =>
          JSON.stringify(await rows()) ===
          JSON.stringify([
            { id: 2, item: 'pear', qty: 50 },
            { id: 3, item: 'plum', qty: 7 },
            { id: 4, item: 'fig', qty: 1 },
          ]),
        { message: 'the binlog changes in the sink' },
      );
      expect(dump).toHaveLength(1);
      expect(String(dump?.[0]?.['cipher'] ?? '')).not.toBe('');
      // The sink's connection, seen from PostgreSQL: TLS, authenticated by the client certificate.
      const ssl = await sink.query<{ ssl: boolean; client_dn: string | null }>(
        "SELECT s.ssl, s.client_dn FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'tributary'",
      );
      expect(ssl.rows.length).toBeGreaterThan(0);
      for (const row of ssl.rows) expect(row).toEqual({ ssl: true, client_dn: '/CN=tributary_sink' });
    } finally {
      controller.abort();
      await done.catch(() => undefined);
      await sink.end();
    }
  });
});
