/**
 * The bench's source tables: their DDL on both sides, how MariaDB's sequence engine generates their rows
 * (deterministic: the same N gives the same table on every machine), and a checksum computed the same way on
 * both sides so that a workload can prove the target equals the source.
 */
import { performance } from 'node:perf_hooks';
import type { Connection } from 'mysql2/promise';
import type pg from 'pg';

export interface TableShape {
  /**
   * `narrow` (~160 B per row as text), `wide` (~1 KB, many columns: text, JSON, decimals), `orders` (~420 B: a
   * bigint key, ints, short varchars, a decimal, DATETIME(6), a longer TEXT) or `events` (~250 B: a composite key,
   * JSON-like text, nullable columns, a DOUBLE).
   */
  readonly name: 'narrow' | 'wide' | 'orders' | 'events';
  /** Column list, in order, for SELECTs and \copy. */
  readonly columns: string;
  /** MariaDB column definitions, `( … ) ENGINE=InnoDB`. */
  readonly mysqlDdl: string;
  /** The PostgreSQL table Tributary creates for it (docs/type-mapping.md), for the floor pipe. */
  readonly pgDdl: string;
  /** The SELECT list generating row `seq` (a column of MariaDB's `seq_<lo>_to_<hi>` tables). */
  readonly generator: string;
  /** Aggregates over the table on MariaDB and on PostgreSQL that print the same text for the same rows. */
  readonly mysqlChecksum: readonly string[];
  readonly pgChecksum: readonly string[];
}

const EPOCH = "'2024-01-01 00:00:00'";

export const NARROW: TableShape = {
  name: 'narrow',
  columns: 'id, a, b, c, d, e, f',
  mysqlDdl:
    '(id BIGINT PRIMARY KEY, a INT NOT NULL, b BIGINT NOT NULL, c DECIMAL(12,2) NOT NULL, ' +
    'd VARCHAR(64) NOT NULL, e VARCHAR(64) NOT NULL, f DATETIME(6) NOT NULL) ENGINE=InnoDB',
  pgDdl:
    '(id bigint NOT NULL, a integer NOT NULL, b bigint NOT NULL, c numeric(12,2) NOT NULL, ' +
    'd varchar(64) NOT NULL, e varchar(64) NOT NULL, f timestamp(6) NOT NULL, PRIMARY KEY (id))',
  generator:
    `seq, CAST((seq * 7919) % 2000003 AS SIGNED) - 1000000, seq * 1000003, ((seq * 37) % 10000000) / 100, ` +
    `CONCAT('name-', LPAD(seq, 10, '0'), '-', MD5(seq)), CONCAT(SHA1(seq), '@example.org'), ` +
    `TIMESTAMPADD(MICROSECOND, seq * 1000003, ${EPOCH})`,
  mysqlChecksum: [
    'COUNT(*)',
    'SUM(a)',
    'SUM(b)',
    'SUM(c)',
    'SUM(CHAR_LENGTH(d) + CHAR_LENGTH(e))',
    `SUM(TIMESTAMPDIFF(MICROSECOND, ${EPOCH}, f))`,
  ],
  pgChecksum: [
    'count(*)',
    'sum(a)',
    'sum(b)',
    'sum(c)',
    'sum(char_length(d) + char_length(e))',
    `sum((extract(epoch FROM f::timestamp - timestamp ${EPOCH}) * 1000000)::bigint)`,
  ],
};

export const WIDE: TableShape = {
  name: 'wide',
  columns: 'id, i1, i2, i3, i4, i5, n1, n2, n3, r1, s1, s2, s3, t1, t2, j, dt, d',
  mysqlDdl:
    '(id BIGINT PRIMARY KEY, i1 INT NOT NULL, i2 INT NOT NULL, i3 BIGINT NOT NULL, i4 SMALLINT NOT NULL, ' +
    'i5 TINYINT NOT NULL, n1 DECIMAL(18,6) NOT NULL, n2 DECIMAL(12,2) NOT NULL, n3 DECIMAL(30,10) NOT NULL, ' +
    'r1 DOUBLE NOT NULL, s1 VARCHAR(100) NOT NULL, s2 VARCHAR(100) NOT NULL, s3 VARCHAR(255) NOT NULL, ' +
    't1 TEXT NOT NULL, t2 TEXT NOT NULL, j JSON NOT NULL, dt DATETIME(6) NOT NULL, d DATE NOT NULL) ENGINE=InnoDB',
  pgDdl:
    '(id bigint NOT NULL, i1 integer NOT NULL, i2 integer NOT NULL, i3 bigint NOT NULL, i4 smallint NOT NULL, ' +
    'i5 smallint NOT NULL, n1 numeric(18,6) NOT NULL, n2 numeric(12,2) NOT NULL, n3 numeric(30,10) NOT NULL, ' +
    'r1 double precision NOT NULL, s1 varchar(100) NOT NULL, s2 varchar(100) NOT NULL, s3 varchar(255) NOT NULL, ' +
    't1 text NOT NULL, t2 text NOT NULL, j jsonb NOT NULL, dt timestamp(6) NOT NULL, d date NOT NULL, ' +
    'PRIMARY KEY (id))',
  generator:
    'seq, CAST((seq * 7919) % 2000003 AS SIGNED) - 1000000, seq % 100000, seq * 1000003, seq % 30000, ' +
    'seq % 100, (seq * 7) / 1000, ((seq * 37) % 10000000) / 100, (seq * 123456789) / 1000000007, seq / 7, ' +
    "CONCAT('first-', MD5(seq)), CONCAT('last-', SHA1(seq)), " +
    "CONCAT('street ', seq, ' ', REPEAT(SUBSTR(MD5(seq * 3), 1, 8), 10)), REPEAT(CONCAT(MD5(seq), ' '), 12), " +
    "CONCAT_WS(' ', SHA1(seq), SHA1(seq + 1), SHA1(seq + 2), SHA1(seq + 3), SHA1(seq + 4)), " +
    "JSON_OBJECT('n', seq, 'k', MD5(seq + 7), 'tags', JSON_ARRAY('a', seq % 7, 'b'), 'v', (seq % 1000) / 8), " +
    `TIMESTAMPADD(MICROSECOND, seq * 1000003, ${EPOCH}), DATE('2000-01-01') + INTERVAL (seq % 10000) DAY`,
  mysqlChecksum: [
    'COUNT(*)',
    'SUM(i1)',
    'SUM(i2)',
    'SUM(i3)',
    'SUM(i4)',
    'SUM(i5)',
    'SUM(n1)',
    'SUM(n2)',
    'SUM(n3)',
    'SUM(FLOOR(r1))',
    'SUM(CHAR_LENGTH(s1) + CHAR_LENGTH(s2) + CHAR_LENGTH(s3))',
    'SUM(CHAR_LENGTH(t1) + CHAR_LENGTH(t2))',
    "SUM(JSON_VALUE(j, '$.n'))",
    "SUM(CHAR_LENGTH(JSON_VALUE(j, '$.k')))",
    `SUM(TIMESTAMPDIFF(MICROSECOND, ${EPOCH}, dt))`,
    "SUM(DATEDIFF(d, '2000-01-01'))",
  ],
  pgChecksum: [
    'count(*)',
    'sum(i1)',
    'sum(i2)',
    'sum(i3)',
    'sum(i4)',
    'sum(i5)',
    'sum(n1)',
    'sum(n2)',
    'sum(n3)',
    'sum(floor(r1))::bigint',
    'sum(char_length(s1) + char_length(s2) + char_length(s3))',
    'sum(char_length(t1) + char_length(t2))',
    "sum((j::jsonb ->> 'n')::bigint)",
    "sum(char_length(j::jsonb ->> 'k'))",
    `sum((extract(epoch FROM dt::timestamp - timestamp ${EPOCH}) * 1000000)::bigint)`,
    "sum(d::date - date '2000-01-01')",
  ],
};

/** An order line: the kind of table most OLTP schemas have, not tuned to any fast path. */
export const ORDERS: TableShape = {
  name: 'orders',
  columns: 'id, customer_id, store_id, status, sku, quantity, amount, placed_at, note',
  mysqlDdl:
    '(id BIGINT PRIMARY KEY, customer_id INT NOT NULL, store_id INT NOT NULL, status VARCHAR(16) NOT NULL, ' +
    'sku VARCHAR(24) NOT NULL, quantity INT NOT NULL, amount DECIMAL(12,2) NOT NULL, placed_at DATETIME(6) NOT NULL, ' +
    'note TEXT NOT NULL) ENGINE=InnoDB',
  pgDdl:
    '(id bigint NOT NULL, customer_id integer NOT NULL, store_id integer NOT NULL, status varchar(16) NOT NULL, ' +
    'sku varchar(24) NOT NULL, quantity integer NOT NULL, amount numeric(12,2) NOT NULL, ' +
    'placed_at timestamp(6) NOT NULL, note text NOT NULL, PRIMARY KEY (id))',
  generator:
    "seq, (seq * 7919) % 100000, seq % 250, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'returned'), " +
    "CONCAT('SKU-', LPAD((seq * 31) % 100000, 6, '0')), 1 + seq % 9, ((seq * 7717) % 10000000) / 100, " +
    `TIMESTAMPADD(MICROSECOND, seq * 1234567, ${EPOCH}), ` +
    "CONCAT('order ', seq, ': ', REPEAT(CONCAT(SUBSTR(SHA1(seq), 1, 20), ' '), 14))",
  mysqlChecksum: [
    'COUNT(*)',
    'SUM(customer_id)',
    'SUM(store_id)',
    'SUM(CHAR_LENGTH(status) + CHAR_LENGTH(sku))',
    'SUM(quantity)',
    'SUM(amount)',
    `SUM(TIMESTAMPDIFF(MICROSECOND, ${EPOCH}, placed_at))`,
    'SUM(CHAR_LENGTH(note))',
  ],
  pgChecksum: [
    'count(*)',
    'sum(customer_id)',
    'sum(store_id)',
    'sum(char_length(status) + char_length(sku))',
    'sum(quantity)',
    'sum(amount)',
    `sum((extract(epoch FROM placed_at::timestamp - timestamp ${EPOCH}) * 1000000)::bigint)`,
    'sum(char_length(note))',
  ],
};

/** An event log: a composite key (chunks split by the server, not by even integer ranges), NULLs, a DOUBLE. */
export const EVENTS: TableShape = {
  name: 'events',
  columns: 'device_id, ev, kind, payload, score, note, flag, at',
  mysqlDdl:
    '(device_id INT NOT NULL, ev BIGINT NOT NULL, kind VARCHAR(32) NOT NULL, payload TEXT NOT NULL, ' +
    'score DOUBLE NULL, note VARCHAR(100) NULL, flag TINYINT NULL, at DATETIME(6) NOT NULL, ' +
    'PRIMARY KEY (device_id, ev)) ENGINE=InnoDB',
  pgDdl:
    '(device_id integer NOT NULL, ev bigint NOT NULL, kind varchar(32) NOT NULL, payload text NOT NULL, ' +
    'score double precision, note varchar(100), flag smallint, at timestamp(6) NOT NULL, PRIMARY KEY (device_id, ev))',
  generator:
    "seq % 997 + 1, seq, ELT(1 + seq % 5, 'page_view', 'add_to_cart', 'checkout', 'login', 'search'), " +
    `CONCAT('{"user":', seq % 50000, ',"action":"', ELT(1 + seq % 4, 'view', 'click', 'buy', 'share'), ` +
    `'","ref":"', MD5(seq), '","score":', (seq % 1000) / 10, ',"tags":["a","b',seq % 7,'"]}'), ` +
    "IF(seq % 5 = 0, NULL, seq / 7), IF(seq % 3 = 0, NULL, CONCAT('note ', SHA1(seq))), " +
    `IF(seq % 7 = 0, NULL, seq % 2), TIMESTAMPADD(MICROSECOND, seq * 777777, ${EPOCH})`,
  mysqlChecksum: [
    'COUNT(*)',
    'SUM(device_id)',
    'SUM(ev)',
    'SUM(CHAR_LENGTH(kind) + CHAR_LENGTH(payload))',
    'SUM(FLOOR(score))',
    'SUM(score IS NULL)',
    'SUM(CHAR_LENGTH(note))',
    'SUM(note IS NULL)',
    'SUM(flag)',
    'SUM(flag IS NULL)',
    `SUM(TIMESTAMPDIFF(MICROSECOND, ${EPOCH}, at))`,
  ],
  pgChecksum: [
    'count(*)',
    'sum(device_id)',
    'sum(ev)',
    'sum(char_length(kind) + char_length(payload))',
    'sum(floor(score))::bigint',
    'sum((score IS NULL)::int)',
    'sum(char_length(note))',
    'sum((note IS NULL)::int)',
    'sum(flag)',
    'sum((flag IS NULL)::int)',
    `sum((extract(epoch FROM at::timestamp - timestamp ${EPOCH}) * 1000000)::bigint)`,
  ],
};

/** Creates `table` (dropping it first) and fills it with rows 1…rows; returns the seconds it took. */
export async function fillTable(mysql: Connection, table: string, shape: TableShape, rows: number): Promise<number> {
  await mysql.query(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} ${shape.mysqlDdl}`);
  const started = performance.now();
  await insertGenerated(mysql, table, shape, 1, rows);
  return (performance.now() - started) / 1000;
}

/** Inserts the generated rows lo…hi in statements of 100,000 rows. */
export async function insertGenerated(
  mysql: Connection,
  table: string,
  shape: TableShape,
  lo: number,
  hi: number,
  step = 100_000,
): Promise<void> {
  for (let from = lo; from <= hi; from += step) {
    const to = Math.min(hi, from + step - 1);
    await mysql.query(`INSERT INTO ${table} SELECT ${shape.generator} FROM seq_${from}_to_${to}`);
  }
}

/** The aggregates as text, in order: DECIMAL (MariaDB) and numeric/bigint (pg) both arrive as exact strings. */
export type Checksum = readonly string[];

function values(row: Record<string, string | number | null> | undefined, count: number): Checksum {
  return Array.from({ length: count }, (_, i) => String(row?.[`c${i}`] ?? 'null'));
}

const selectList = (aggregates: readonly string[]): string => aggregates.map((a, i) => `${a} AS c${i}`).join(', ');

export async function mysqlChecksum(mysql: Connection, table: string, shape: TableShape): Promise<Checksum> {
  const [rows] = await mysql.query(`SELECT ${selectList(shape.mysqlChecksum)} FROM ${table}`);
  return values((rows as Record<string, string | number | null>[])[0], shape.mysqlChecksum.length);
}

export async function pgChecksum(client: pg.Client, table: string, shape: TableShape): Promise<Checksum> {
  const result = await client.query<Record<string, string | null>>(
    `SELECT ${selectList(shape.pgChecksum)} FROM ${table}`,
  );
  return values(result.rows[0], shape.pgChecksum.length);
}

export const sameChecksum = (a: Checksum, b: Checksum): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Throws unless the target table's checksum equals `expected`. */
export async function verifyTarget(client: pg.Client, table: string, shape: TableShape, expected: Checksum) {
  const actual = await pgChecksum(client, table, shape);
  if (!sameChecksum(actual, expected)) {
    throw new Error(`${table} differs from the source: ${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`);
  }
}

/** count(*) of a sink table; -1 while it does not exist yet. */
export async function pgCount(client: pg.Client, table: string): Promise<number> {
  try {
    const result = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    return result.rows[0]?.n ?? 0;
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return -1;
    throw error;
  }
}

/** Whether the sink table exists yet. */
export async function pgTableExists(client: pg.Client, table: string): Promise<boolean> {
  const result = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
  return result.rows[0]?.t !== null && result.rows[0]?.t !== undefined;
}

/** Whether the sink row with this id exists, or (with `test`) satisfies the SQL condition. */
export async function pgRowHolds(client: pg.Client, table: string, id: number, test = 'true'): Promise<boolean> {
  try {
    const result = await client.query(`SELECT 1 FROM ${table} WHERE id = $1 AND (${test})`, [id]);
    return (result.rowCount ?? 0) > 0;
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return false;
    throw error;
  }
}
