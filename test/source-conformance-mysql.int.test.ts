import type { Connection } from 'mysql2/promise';
import { parseTableSelectors } from '../src/core/table-selector.js';
import { mysqlSource } from '../src/connectors/mysql/mysql-source.js';
import { createLogger } from '../src/runtime/logger.js';
import { mysqlAdmin, mysqlUrl } from './harness/databases.js';
import { sourceConformance, type TypeColumn } from './harness/source-conformance.js';

/** Every family of MariaDB type, with extremes and NULL; the same literals go through the snapshot and the binlog. */
const TYPE_COLUMNS: readonly TypeColumn[] = [
  { name: 'ti', sql: 'TINYINT', literals: ['-128', '127', 'NULL'] },
  { name: 'bool1', sql: 'BOOLEAN', literals: ['0', '1', 'NULL'] },
  { name: 'siu', sql: 'SMALLINT UNSIGNED', literals: ['0', '65535', 'NULL'] },
  { name: 'mi', sql: 'MEDIUMINT', literals: ['-8388608', '8388607', 'NULL'] },
  { name: 'i', sql: 'INT', literals: ['-2147483648', '2147483647', 'NULL'] },
  { name: 'iu', sql: 'INT UNSIGNED', literals: ['0', '4294967295', 'NULL'] },
  { name: 'bi', sql: 'BIGINT', literals: ['-9223372036854775808', '9223372036854775807', 'NULL'] },
  { name: 'biu', sql: 'BIGINT UNSIGNED', literals: ['0', '18446744073709551615', 'NULL'] },
  { name: 'dec1', sql: 'DECIMAL(20,6)', literals: ['-12345678901234.123456', '0.000001', 'NULL'] },
  {
    name: 'dec2',
    sql: 'DECIMAL(65,30)',
    literals: ['1.5', '-99999999999999999999999999999999999.999999999999999999999999999999', 'NULL'],
  },
  { name: 'f', sql: 'FLOAT', literals: ['3.40282e38', '-1.17549e-38', '0.1'] },
  { name: 'd', sql: 'DOUBLE', literals: ['1.7976931348623157e308', '-4.9e-324', '0.1'] },
  { name: 'y', sql: 'YEAR', literals: ['1901', '2155', 'NULL'] },
  { name: 'dt', sql: 'DATE', literals: ["'1000-01-01'", "'9999-12-31'", 'NULL'] },
  { name: 't6', sql: 'TIME(6)', literals: ["'-838:59:59.000000'", "'12:34:56.789012'", 'NULL'] },
  {
    name: 'dt6',
    sql: 'DATETIME(6)',
    literals: ["'1000-01-01 00:00:00.000000'", "'9999-12-31 23:59:59.999999'", 'NULL'],
  },
  {
    name: 'ts6',
    sql: 'TIMESTAMP(6) NULL',
    literals: ["'1970-01-01 00:00:01.000000'", "'2038-01-19 03:14:07.999999'", 'NULL'],
  },
  { name: 'c', sql: 'CHAR(5)', literals: ["'ab'", "'ü€😀'", 'NULL'] },
  { name: 'vc', sql: 'VARCHAR(50)', literals: ["''", "'tab\\there, quote '' and backslash \\\\'", 'NULL'] },
  { name: 'txt', sql: 'TEXT', literals: ["REPEAT('x', 5000)", "'line\\nbreak'", 'NULL'] },
  { name: 'bn', sql: 'BINARY(4)', literals: ["X'00010203'", "X'ff'", 'NULL'] },
  { name: 'vb', sql: 'VARBINARY(16)', literals: ["X''", "X'deadbeef00'", 'NULL'] },
  { name: 'bl', sql: 'BLOB', literals: ["X'00ff00ff'", "REPEAT(X'ab', 3000)", 'NULL'] },
  { name: 'e', sql: "ENUM('a','b','c')", literals: ["'a'", "'c'", 'NULL'] },
  { name: 's', sql: "SET('x','y','z')", literals: ["''", "'x,z'", 'NULL'] },
  { name: 'b10', sql: 'BIT(10)', literals: ["b'0000000000'", "b'1111111111'", 'NULL'] },
  { name: 'j', sql: 'JSON', literals: [`'{"a": [1, 2.5, "x"], "b": null}'`, "'[]'", 'NULL'] },
];

sourceConformance('MariaDB', async () => {
  const admin: Connection = await mysqlAdmin();
  const url = new URL(mysqlUrl());
  const log = createLogger({ level: 'warn', write: (line) => console.log(line) });
  return {
    createNamespace: async (name) => void (await admin.query(`CREATE DATABASE ${name}`)),
    dropNamespace: async (name) => void (await admin.query(`DROP DATABASE IF EXISTS ${name}`)),
    execute: async (sql) => void (await admin.query(sql)),
    tablePattern: (namespace, name) => `${namespace}.${name}`,
    source: (spec) =>
      mysqlSource(
        {
          hostname: url.hostname,
          port: Number(url.port),
          username: decodeURIComponent(url.username),
          password: decodeURIComponent(url.password),
          tables: spec.tables,
          'scan.incremental.snapshot.chunk.size': spec.chunkSize,
          'heartbeat.interval': 1000,
          ...(spec.rowsPerSecond === undefined ? {} : { 'scan.snapshot.rows-per-second': spec.rowsPerSecond }),
        },
        {
          log,
          pipelineName: spec.pipelineName,
          parallelism: spec.parallelism,
          include: parseTableSelectors(spec.tables),
          exclude: [],
        },
      ),
    sourceYaml: (spec) => ({
      yaml: [
        '  type: mysql',
        `  hostname: ${url.hostname}`,
        `  port: ${url.port}`,
        `  username: ${decodeURIComponent(url.username)}`,
        '  password: ${SC_MYSQL_PASSWORD}',
        `  tables: ${spec.tables}`,
        `  scan.incremental.snapshot.chunk.size: ${spec.chunkSize}`,
        ...(spec.rowsPerSecond === undefined ? [] : [`  scan.snapshot.rows-per-second: ${spec.rowsPerSecond}`]),
      ].join('\n'),
      env: { SC_MYSQL_PASSWORD: decodeURIComponent(url.password) },
    }),
    typeColumns: TYPE_COLUMNS,
    close: () => admin.end(),
  };
});
