import type { Connection } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/index.js';
import { chooseServer } from '../../src/connectors/mysql/mysql-failover.js';
import {
  GtidTracker,
  checkNotBehind,
  gtidsMissing,
  normalizeGtidState,
  parseMariadbGtidPos,
  type ServerGtids,
} from '../../src/connectors/mysql/mysql-gtid.js';
import { formatHost, hostsToTry, parseHostList } from '../../src/connectors/mysql/mysql-hosts.js';
import { formatBinlogOffset } from '../../src/connectors/mysql/mysql-offset.js';
import { mysqlSourceConfig } from '../../src/connectors/mysql/mysql-source-config.js';
import type { ServerInfo } from '../../src/connectors/mysql/mysql-preflight.js';
import {
  addMysqlGtid,
  encodeMysqlGtidSet,
  formatMysqlGtidSet,
  missingMysqlGtids,
  parseMysqlGtidSet,
} from '../../src/connectors/mysql/protocol/gtid-set.js';
import { binlogDumpPayload } from '../../src/connectors/mysql/protocol/mysql2-binlog-command.js';
import { createLogger } from '../../src/runtime/logger.js';

const UUID_A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const UUID_B = '00000000-0000-0000-0000-00000000000b';

describe('MySQL GTID sets', () => {
  it('parse, merge adjacent and overlapping intervals, and print in uuid order', () => {
    const set = parseMysqlGtidSet(`${UUID_A}:1-5:6-7:10, ${UUID_B.toUpperCase()}:3,\n${UUID_A}:9`);
    expect(formatMysqlGtidSet(set)).toBe(`${UUID_B}:3,${UUID_A}:1-7:9-10`);
    expect(() => parseMysqlGtidSet(`${UUID_A}:0-3`)).toThrow(/not a GTID interval/);
    expect(() => parseMysqlGtidSet('nonsense:1')).toThrow(/not a GTID set entry/);
  });

  it('add one GTID and tell what a server lacks', () => {
    let set = parseMysqlGtidSet(`${UUID_A}:1-5`);
    set = addMysqlGtid(set, UUID_A, 6n);
    set = addMysqlGtid(set, UUID_B, 1n);
    expect(formatMysqlGtidSet(set)).toBe(`${UUID_B}:1,${UUID_A}:1-6`);
    const missing = missingMysqlGtids(parseMysqlGtidSet(`${UUID_A}:1-3:5`), set);
    expect(formatMysqlGtidSet(missing)).toBe(`${UUID_B}:1,${UUID_A}:4:6`);
    expect(missingMysqlGtids(set, parseMysqlGtidSet(`${UUID_A}:2-4`)).size).toBe(0);
  });

  it('encode the set as COM_BINLOG_DUMP_GTID carries it (end exclusive), inside the whole packet', () => {
    const set = parseMysqlGtidSet(`${UUID_A}:1-5:7`);
    const encoded = encodeMysqlGtidSet(set);
    const expected = Buffer.concat([
      u64(1n),
      Buffer.from(UUID_A.replace(/-/g, ''), 'hex'),
      u64(2n),
      u64(1n),
      u64(6n),
      u64(7n),
      u64(8n),
    ]);
    expect(encoded.toString('hex')).toBe(expected.toString('hex'));

    const packet = binlogDumpPayload({
      serverId: 5401,
      file: '',
      position: 4,
      flags: 0,
      register: true,
      hostname: 'h',
      mysqlGtidSet: encoded,
    });
    const header = Buffer.alloc(1 + 2 + 4 + 4);
    header.writeUInt8(0x1e, 0); // COM_BINLOG_DUMP_GTID
    header.writeUInt16LE(0x04, 1); // BINLOG_THROUGH_GTID
    header.writeUInt32LE(5401, 3);
    header.writeUInt32LE(0, 7); // file name length, no name
    const size = Buffer.alloc(4);
    size.writeUInt32LE(encoded.length);
    expect(packet.toString('hex')).toBe(Buffer.concat([header, u64(4n), size, encoded]).toString('hex'));
  });

  it('COM_BINLOG_DUMP stays as it was without a GTID set', () => {
    const packet = binlogDumpPayload({
      serverId: 7,
      file: 'mysql-bin.000002',
      position: 1234,
      flags: 1,
      register: false,
      hostname: 'h',
    });
    expect(packet[0]).toBe(0x12);
    expect(packet.readUInt32LE(1)).toBe(1234);
    expect(packet.subarray(11).toString()).toBe('mysql-bin.000002');
  });
});

describe('MariaDB GTID positions', () => {
  it('parse and normalize; the other flavour and bad text are problems', () => {
    expect(normalizeGtidState(' 1-5-17, 0-1-120 ', 'mariadb')).toEqual({ state: '0-1-120,1-5-17' });
    expect(normalizeGtidState('', 'mariadb')).toEqual({ state: '' });
    expect(normalizeGtidState(`${UUID_A}:1-3`, 'mariadb')).toEqual({
      problem: expect.stringContaining('is a MySQL GTID set') as string,
    });
    expect(normalizeGtidState('0-1', 'mariadb')).toEqual({ problem: expect.stringContaining('not a MariaDB GTID') });
    expect(() => parseMariadbGtidPos('0-1-5,0-2-6')).toThrow(/appears twice/);
    expect(normalizeGtidState(`${UUID_A}:3-4,${UUID_A}:1-2`, 'mysql')).toEqual({ state: `${UUID_A}:1-4` });
  });

  it('a server is behind when a domain has a lower sequence or is missing', () => {
    expect(gtidsMissing('0-1-120,1-5-17', '0-1-120,1-5-17')).toBeUndefined();
    expect(gtidsMissing('0-2-130,1-5-17', '0-1-120')).toBeUndefined(); // a newer primary in the domain
    expect(gtidsMissing('0-1-100', '0-1-120,1-5-17')).toBe(
      'domain 0: at 0-1-100, 20 behind; domain 1: none of its 17 transactions',
    );
    expect(gtidsMissing(`${UUID_A}:1-10`, `${UUID_A}:1-12`)).toBe(`it lacks ${UUID_A}:11-12`);
  });

  it('a stale server is refused with SOURCE_GTID_BEHIND naming the fix; MySQL without GTIDs too', () => {
    const server = (state: string | undefined): ServerGtids => ({
      state,
      strict: true,
      logReplicaUpdates: true,
      isReplica: true,
      mode: state === undefined ? 'OFF' : 'ON',
    });
    expect(() => checkNotBehind(server('0-1-120'), '0-1-119', 'db2:3306')).not.toThrow();
    let error: unknown;
    try {
      checkNotBehind(server('0-1-100'), '0-1-120', 'db2:3306');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TributaryError);
    expect(error).toMatchObject({ code: 'SOURCE_GTID_BEHIND', retryable: false });
    expect((error as TributaryError).message).toContain('db2:3306 is behind the checkpoint (0-1-120)');
    expect((error as TributaryError).hint).toContain("MASTER_GTID_WAIT('0-1-120')");
    expect(() => checkNotBehind(server(undefined), `${UUID_A}:1`, 'db2:3306')).toThrow(/gtid_mode is OFF/);
  });
});

describe('GtidTracker', () => {
  it('follows commits per MariaDB domain from its seed', () => {
    const tracker = new GtidTracker('0-1-10,1-3-4');
    tracker.commit('0-2-11');
    expect(tracker.state).toBe('0-2-11,1-3-4');
    tracker.commit(undefined);
    tracker.commit('2-1-1');
    expect(tracker.state).toBe('0-2-11,1-3-4,2-1-1');
  });

  it('follows a MySQL set and ignores anonymous transactions', () => {
    const tracker = new GtidTracker(`${UUID_A}:1-10`);
    tracker.commit(`${UUID_A}:11`);
    tracker.commit('00000000-0000-0000-0000-000000000000:0');
    expect(tracker.state).toBe(`${UUID_A}:1-11`);
  });

  it('an empty seed is a known state; without a seed the state stays unknown', () => {
    const empty = new GtidTracker('');
    expect(empty.state).toBe('');
    empty.commit('0-1-1');
    expect(empty.state).toBe('0-1-1');
    const mysql = new GtidTracker('');
    mysql.commit(`${UUID_A}:1`);
    expect(mysql.state).toBe(`${UUID_A}:1`);
    const unknown = new GtidTracker(undefined);
    unknown.commit('0-1-1');
    expect(unknown.state).toBeUndefined();
  });

  it('a GTID-only position prints as such', () => {
    expect(formatBinlogOffset({ file: '', pos: 4, skipRows: 2, gtidState: '0-1-9' })).toBe('GTID 0-1-9+2 rows');
    expect(formatBinlogOffset({ file: 'mysql-bin.000001', pos: 4, skipRows: 0, gtidState: '0-1-9' })).toBe(
      'mysql-bin.000001:4',
    );
  });
});

describe('host lists', () => {
  it('hostname with commas (Flink CDC) and hosts with ports', () => {
    expect(parseHostList('db1, db2,db3', 3307)).toEqual([
      { host: 'db1', port: 3307 },
      { host: 'db2', port: 3307 },
      { host: 'db3', port: 3307 },
    ]);
    expect(parseHostList('db1:3306,[::1]:3310,db1:3306,::1', 3306)).toEqual([
      { host: 'db1', port: 3306 },
      { host: '::1', port: 3310 },
      { host: '::1', port: 3306 },
    ]);
    expect(() => parseHostList('db1:99999', 3306)).toThrow(/not a TCP port/);
    expect(() => parseHostList(' , ', 3306)).toThrow(/no host/);
    expect(formatHost({ host: '::1', port: 3306 })).toBe('[::1]:3306');
  });

  it('the configuration reads hosts first, then hostname; the first is the server used', () => {
    const both = mysqlSourceConfig({ hostname: 'a', hosts: 'b:1,c', port: 3308, username: 'u', tables: 'x.y' });
    expect(both.hosts).toEqual([
      { host: 'b', port: 1 },
      { host: 'c', port: 3308 },
    ]);
    expect([both.host, both.port]).toEqual(['b', 1]);
    const one = mysqlSourceConfig({ hostname: 'a', username: 'u', tables: 'x.y' });
    expect(one.hosts).toEqual([{ host: 'a', port: 3306 }]);
    // Resume by GTID on another server: by default with several servers only.
    expect(both.resumeByGtid).toBe(true);
    expect(one.resumeByGtid).toBe(false);
    expect(mysqlSourceConfig({ hostname: 'a', 'failover.resume-by-gtid': true }).resumeByGtid).toBe(true);
    expect(mysqlSourceConfig({ hosts: 'a,b', 'failover.resume-by-gtid': false }).resumeByGtid).toBe(false);
  });

  it("the checkpoint's host is tried first", () => {
    const hosts = parseHostList('a:1,b:2,c:3', 3306);
    expect(hostsToTry(hosts, 'b:2').map(formatHost)).toEqual(['b:2', 'a:1', 'c:3']);
    expect(hostsToTry(hosts, 'z:9').map(formatHost)).toEqual(['a:1', 'b:2', 'c:3']);
  });
});

describe('chooseServer', () => {
  const info: ServerInfo = {
    flavor: 'mariadb',
    version: '10.11',
    serverId: 3,
    identity: 'server-id:3',
    lowerCaseTableNames: 0,
  };
  const conn = () => ({ end: () => Promise.resolve(), destroy: () => undefined }) as unknown as Connection;
  const unreachable = () => new TributaryError('SOURCE_UNREACHABLE', 'refused');
  const stale = () => new TributaryError('SOURCE_GTID_BEHIND', 'behind');

  async function choose(outcomes: Record<string, 'ok' | 'down' | 'stale' | 'auth'>, preferred?: string) {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', write: (line) => lines.push(line) });
    const tried: string[] = [];
    let current = '';
    const result = await chooseServer({
      hosts: parseHostList(Object.keys(outcomes).join(','), 3306),
      preferred,
      log,
      use: (host) => (current = formatHost(host)),
      connect: () => {
        tried.push(current);
        const outcome = outcomes[current];
        if (outcome === 'down') return Promise.reject(unreachable());
        if (outcome === 'auth') return Promise.reject(new TributaryError('SOURCE_AUTH_FAILED', 'denied'));
        return Promise.resolve(conn());
      },
      serverInfo: () => Promise.resolve(info),
      check: () => (outcomes[current] === 'stale' ? Promise.reject(stale()) : Promise.resolve(current)),
      classify: (error) => (error instanceof TributaryError ? error : new TributaryError('INTERNAL', String(error))),
    }).then(
      (choice) => choice.result,
      (error: TributaryError) => `failed: ${error.code}`,
    );
    return { result, tried, lines };
  }

  it('skips unreachable and stale servers, logging each and the switch', async () => {
    const { result, tried, lines } = await choose({ 'a:1': 'down', 'b:2': 'stale', 'c:3': 'ok' });
    expect(result).toBe('c:3');
    expect(tried).toEqual(['a:1', 'b:2', 'c:3']);
    expect(lines.join('\n')).toMatch(/a:1 cannot be read: \[SOURCE_UNREACHABLE\] refused; trying b:2/);
    expect(lines.join('\n')).toMatch(/b:2 cannot be read: \[SOURCE_GTID_BEHIND\] behind; trying c:3/);
    expect(lines.join('\n')).toMatch(/switched to c:3 .* after 2 other hosts failed/);
  });

  it('none left: a retryable failure first, else the first; an error no other server helps with stops at once', async () => {
    expect((await choose({ 'a:1': 'stale', 'b:2': 'down' })).result).toBe('failed: SOURCE_UNREACHABLE');
    expect((await choose({ 'a:1': 'stale', 'b:2': 'stale' })).result).toBe('failed: SOURCE_GTID_BEHIND');
    const auth = await choose({ 'a:1': 'auth', 'b:2': 'ok' });
    expect(auth.result).toBe('failed: SOURCE_AUTH_FAILED');
    expect(auth.tried).toEqual(['a:1']);
    const preferred = await choose({ 'a:1': 'ok', 'b:2': 'ok' }, 'b:2');
    expect(preferred.result).toBe('b:2');
    expect(preferred.lines).toEqual([]);
  });
});

function u64(value: bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(value);
  return out;
}
