import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { SqlSession } from '../src/composer/sql-job.js';
import type { InsertStatement } from '../src/sql/sql-ast.js';
import { mysqlRows, textRows } from './harness/compare.js';
import { jdbcOptions, mysqlCdcOptions, startSqlJob, type RunningSqlJob } from './harness/sql-jobs.js';
import { testTempDir } from './harness/temp-dirs.js';

/**
 * Differential test of streaming SQL: random change streams (inserts, updates, deletes, join keys and primary
 * keys that change, NULL join keys, deletes that empty groups) over three MariaDB tables; five queries run as
 * SQL jobs (2- and 3-way joins, left joins with NULLs, GROUP BY with every aggregate, WHERE, HAVING). After each
 * batch every sink table must equal the same query run by PostgreSQL over a copy of the source rows: an
 * independent engine, with exact numerics (AVG of decimals rounded HALF_UP to 6 digits, as Flink does). Halfway,
 * every job is stopped and started again, so the rest runs on state restored from the checkpoints.
 */

const TABLES = {
  a: 'id BIGINT PRIMARY KEY, k INT NULL, g VARCHAR(8) NOT NULL, v DECIMAL(10,2) NULL, n INT NULL',
  b: 'id BIGINT PRIMARY KEY, k INT NULL, w DECIMAL(8,3) NULL, tag VARCHAR(8) NULL',
  c: 'id BIGINT PRIMARY KEY, bid BIGINT NULL, x INT NULL, ts DATETIME(3) NULL',
} as const;
const PG_TABLES = {
  a: 'id BIGINT PRIMARY KEY, k INT, g VARCHAR(8) NOT NULL, v NUMERIC(10,2), n INT',
  b: 'id BIGINT PRIMARY KEY, k INT, w NUMERIC(8,3), tag VARCHAR(8)',
  c: 'id BIGINT PRIMARY KEY, bid BIGINT, x INT, ts TIMESTAMP(3)',
} as const;
const FLINK_TABLES = {
  a: 'id BIGINT, k INT, g STRING NOT NULL, v DECIMAL(10, 2), n INT, PRIMARY KEY (id) NOT ENFORCED',
  b: 'id BIGINT, k INT, w DECIMAL(8, 3), tag STRING, PRIMARY KEY (id) NOT ENFORCED',
  c: 'id BIGINT, bid BIGINT, x INT, ts TIMESTAMP(3), PRIMARY KEY (id) NOT ENFORCED',
} as const;

interface Query {
  readonly name: string;
  readonly sinkColumns: string;
  readonly select: string;
  /** The same query for PostgreSQL over schema ref, every column as text, ordered. */
  readonly reference: string;
  /** The sink table's rows as text, in the reference's order. */
  readonly result: string;
}

const QUERIES: readonly Query[] = [
  {
    name: 'q_inner2',
    sinkColumns:
      'a_id BIGINT, b_id BIGINT, g STRING, w DECIMAL(8, 3), s DECIMAL(14, 3), PRIMARY KEY (a_id, b_id) NOT ENFORCED',
    select: 'SELECT a.id, b.id, a.g, b.w, a.v + b.w AS s FROM a JOIN b ON a.k = b.k',
    reference:
      'SELECT a.id::text AS c1, b.id::text AS c2, a.g, b.w::text, (a.v + b.w)::numeric(14,3)::text FROM ref.a JOIN ref.b ON a.k = b.k ORDER BY a.id, b.id',
    result: 'SELECT a_id::text, b_id::text, g, w::text, s::text FROM q_inner2 ORDER BY q_inner2.a_id, q_inner2.b_id',
  },
  {
    name: 'q_left1',
    sinkColumns: 'id BIGINT, g STRING, x INT, bid BIGINT, PRIMARY KEY (id) NOT ENFORCED',
    select: 'SELECT a.id, a.g, c.x, c.bid FROM a LEFT JOIN c ON a.id = c.id',
    reference:
      'SELECT a.id::text AS c1, a.g, c.x::text AS c3, c.bid::text AS c4 FROM ref.a LEFT JOIN ref.c ON a.id = c.id ORDER BY a.id',
    result: 'SELECT id::text, g, x::text, bid::text FROM q_left1 ORDER BY q_left1.id',
  },
  {
    name: 'q_left_agg',
    sinkColumns: 'id BIGINT, nb BIGINT, sw DECIMAL(38, 3), mt STRING, n BIGINT, PRIMARY KEY (id) NOT ENFORCED',
    select: 'SELECT a.id, COUNT(b.id), SUM(b.w), MAX(b.tag), COUNT(*) FROM a LEFT JOIN b ON a.k = b.k GROUP BY a.id',
    reference:
      'SELECT a.id::text AS c1, count(b.id)::text AS c2, sum(b.w)::numeric(38,3)::text AS c3, max(b.tag COLLATE "C") AS c4, count(*)::text AS c5 ' +
      'FROM ref.a LEFT JOIN ref.b ON a.k = b.k GROUP BY a.id ORDER BY a.id',
    result: 'SELECT id::text, nb::text, sw::text, mt, n::text FROM q_left_agg ORDER BY q_left_agg.id',
  },
  {
    name: 'q_join3_agg',
    sinkColumns:
      'g STRING, n BIGINT, nx BIGINT, dt BIGINT, sv DECIMAL(38, 2), av DECIMAL(38, 6), mw DECIMAL(8, 3), mx INT, ' +
      'sn BIGINT, an BIGINT, mt STRING, sdx BIGINT, adv DECIMAL(38, 6), PRIMARY KEY (g) NOT ENFORCED',
    select:
      'SELECT a.g, COUNT(*), COUNT(c.x), COUNT(DISTINCT b.tag), SUM(a.v), AVG(a.v), MIN(b.w), MAX(c.x), SUM(a.n), ' +
      'AVG(a.n), MIN(b.tag), SUM(DISTINCT c.x), AVG(DISTINCT a.v) FROM a JOIN b ON a.k = b.k JOIN c ON c.bid = b.id GROUP BY a.g',
    reference:
      'SELECT a.g, count(*)::text AS c2, count(c.x)::text AS c3, count(DISTINCT b.tag)::text AS c4, ' +
      'sum(a.v)::numeric(38,2)::text AS c5, round(avg(a.v), 6)::numeric(38,6)::text AS c6, min(b.w)::text AS c7, ' +
      'max(c.x)::text AS c8, sum(a.n)::text AS c9, trunc(avg(a.n))::bigint::text AS c10, min(b.tag COLLATE "C") AS c11, ' +
      'sum(DISTINCT c.x)::text AS c12, round(avg(DISTINCT a.v), 6)::numeric(38,6)::text AS c13 ' +
      'FROM ref.a JOIN ref.b ON a.k = b.k JOIN ref.c ON c.bid = b.id GROUP BY a.g ORDER BY a.g COLLATE "C"',
    result:
      'SELECT g, n::text, nx::text, dt::text, sv::text, av::text, mw::text, mx::text, sn::text, an::text, mt, ' +
      'sdx::text, adv::text ' +
      'FROM q_join3_agg ORDER BY g COLLATE "C"',
  },
  {
    // Keyed by b.id alone in the state (b's primary key makes b.tag a function of it): b's updates move its tag.
    name: 'q_group_dep',
    sinkColumns: 'b_id BIGINT, tag STRING, n BIGINT, sv DECIMAL(38, 2), PRIMARY KEY (b_id) NOT ENFORCED',
    select: 'SELECT b.id, b.tag, COUNT(a.id), SUM(a.v) FROM a JOIN b ON a.k = b.k GROUP BY b.id, b.tag',
    reference:
      'SELECT b.id::text AS c1, b.tag, count(a.id)::text AS c3, sum(a.v)::numeric(38,2)::text AS c4 ' +
      'FROM ref.a JOIN ref.b ON a.k = b.k GROUP BY b.id, b.tag ORDER BY b.id',
    result: 'SELECT b_id::text, tag, n::text, sv::text FROM q_group_dep ORDER BY q_group_dep.b_id',
  },
  {
    name: 'q_having',
    sinkColumns:
      'tag STRING, n BIGINT, sw DECIMAL(38, 3), mn DECIMAL(10, 2), mx DECIMAL(10, 2), PRIMARY KEY (tag) NOT ENFORCED',
    select:
      'SELECT b.tag, COUNT(*), SUM(b.w), MIN(a.v), MAX(a.v) FROM a JOIN b ON a.k = b.k ' +
      'WHERE b.tag IS NOT NULL AND a.v > 0 GROUP BY b.tag HAVING COUNT(*) > 2',
    reference:
      'SELECT b.tag, count(*)::text AS c2, sum(b.w)::numeric(38,3)::text AS c3, min(a.v)::text AS c4, max(a.v)::text AS c5 ' +
      'FROM ref.a JOIN ref.b ON a.k = b.k WHERE b.tag IS NOT NULL AND a.v > 0 GROUP BY b.tag HAVING count(*) > 2 ' +
      'ORDER BY b.tag COLLATE "C"',
    result: 'SELECT tag, n::text, sw::text, mn::text, mx::text FROM q_having ORDER BY tag COLLATE "C"',
  },
  {
    // Eager aggregation (seed 004's shape): c counted per c.bid below the joins, the partial results combined per a.
    name: 'q_eager3',
    sinkColumns:
      'id BIGINT, g STRING, nx BIGINT, n BIGINT, sx BIGINT, mt TIMESTAMP(3), mx INT, PRIMARY KEY (id) NOT ENFORCED',
    select:
      'SELECT a.id, a.g, COUNT(c.x), COUNT(*), SUM(c.x), MIN(c.ts), MAX(c.x) FROM a JOIN b ON a.k = b.k ' +
      'JOIN c ON c.bid = b.id WHERE c.x IS NULL OR c.x > 10 GROUP BY a.id, a.g HAVING COUNT(*) > 1',
    reference:
      'SELECT a.id::text AS c1, a.g, count(c.x)::text AS c3, count(*)::text AS c4, sum(c.x)::text AS c5, ' +
      'min(c.ts)::text AS c6, max(c.x)::text AS c7 FROM ref.a JOIN ref.b ON a.k = b.k JOIN ref.c ON c.bid = b.id ' +
      'WHERE c.x IS NULL OR c.x > 10 GROUP BY a.id, a.g HAVING count(*) > 1 ORDER BY a.id',
    result: 'SELECT id::text, g, nx::text, n::text, sx::text, mt::text, mx::text FROM q_eager3 ORDER BY q_eager3.id',
  },
];

/**
 * Queries of the slice after the first — UNION ALL, UNION, subqueries in FROM, a view, SELECT DISTINCT, WITH, window
 * TVFs and the legacy GROUP BY TUMBLE and SESSION, Top-N (ROW_NUMBER, ORDER BY … LIMIT), [NOT] IN (SELECT …), [NOT] EXISTS, scalar subqueries, INTERSECT, EXCEPT, INTERSECT ALL, EXCEPT ALL — run as one job: a statement set, all of them on one capture of the source tables. PostgreSQL cuts the
 * windows with date_bin (aligned to the epoch, as Flink's are) and generate_series.
 */
const SET_PRELUDE = 'CREATE TEMPORARY VIEW tagged AS SELECT k, tag FROM b WHERE tag IS NOT NULL;';
const SET_QUERIES: readonly Query[] = [
  {
    name: 'q_union_all',
    sinkColumns: 'src STRING, id BIGINT, k INT, PRIMARY KEY (src, id) NOT ENFORCED',
    select: "SELECT 'a' AS src, a.id, a.k FROM a UNION ALL SELECT 'b', b.id, b.k FROM b",
    reference:
      "SELECT src, id::text AS c2, k::text AS c3 FROM (SELECT 'a' AS src, id, k FROM ref.a UNION ALL SELECT 'b', id, k FROM ref.b) u ORDER BY src, id",
    result: 'SELECT src, id::text, k::text FROM q_union_all ORDER BY q_union_all.src, q_union_all.id',
  },
  {
    name: 'q_union_agg',
    sinkColumns: 'k INT, n BIGINT, s DECIMAL(38, 3), PRIMARY KEY (k) NOT ENFORCED',
    select:
      'SELECT u.k, COUNT(*), SUM(u.w) FROM (SELECT k, v AS w FROM a WHERE k IS NOT NULL UNION ALL ' +
      'SELECT k, w FROM b WHERE k IS NOT NULL) AS u GROUP BY u.k',
    reference:
      'SELECT k::text AS c1, count(*)::text AS c2, sum(w)::numeric(38,3)::text AS c3 FROM (SELECT k, v AS w FROM ref.a ' +
      'WHERE k IS NOT NULL UNION ALL SELECT k, w FROM ref.b WHERE k IS NOT NULL) u GROUP BY k ORDER BY k',
    result: 'SELECT k::text, n::text, s::text FROM q_union_agg ORDER BY q_union_agg.k',
  },
  {
    name: 'q_view_distinct',
    sinkColumns: 'g STRING, tag STRING, PRIMARY KEY (g, tag) NOT ENFORCED',
    select: 'SELECT DISTINCT a.g, t.tag FROM a JOIN tagged AS t ON a.k = t.k',
    reference:
      'SELECT g, tag FROM (SELECT DISTINCT a.g, b.tag FROM ref.a JOIN ref.b ON a.k = b.k WHERE b.tag IS NOT NULL) d ' +
      'ORDER BY g COLLATE "C", tag COLLATE "C"',
    result: 'SELECT g, tag FROM q_view_distinct ORDER BY g COLLATE "C", tag COLLATE "C"',
  },
  {
    name: 'q_union_distinct',
    sinkColumns: 'k BIGINT, PRIMARY KEY (k) NOT ENFORCED',
    select: 'SELECT k FROM a WHERE k IS NOT NULL UNION SELECT bid FROM c WHERE bid IS NOT NULL',
    reference:
      'SELECT k::text AS c1 FROM (SELECT k::bigint AS k FROM ref.a WHERE k IS NOT NULL UNION ' +
      'SELECT bid FROM ref.c WHERE bid IS NOT NULL) u ORDER BY u.k',
    result: 'SELECT k::text FROM q_union_distinct ORDER BY q_union_distinct.k',
  },
  {
    name: 'q_sub_agg_join',
    sinkColumns: 'id BIGINT, g STRING, n BIGINT, mx INT, PRIMARY KEY (id) NOT ENFORCED',
    select:
      'SELECT a.id, a.g, s.n, s.mx FROM a JOIN (SELECT c.bid, COUNT(*) AS n, MAX(c.x) AS mx FROM c GROUP BY c.bid) AS s ' +
      'ON a.id = s.bid',
    reference:
      'SELECT a.id::text AS c1, a.g, s.n::text AS c3, s.mx::text AS c4 FROM ref.a JOIN ' +
      '(SELECT bid, count(*) AS n, max(x) AS mx FROM ref.c GROUP BY bid) s ON a.id = s.bid ORDER BY a.id',
    result: 'SELECT id::text, g, n::text, mx::text FROM q_sub_agg_join ORDER BY q_sub_agg_join.id',
  },
  {
    name: 'q_tumble',
    sinkColumns: 'ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, sx BIGINT, mb BIGINT, PRIMARY KEY (ws, we) NOT ENFORCED',
    select:
      'SELECT window_start, window_end, COUNT(*), SUM(x), MAX(bid) ' +
      "FROM TABLE(TUMBLE(TABLE c, DESCRIPTOR(ts), INTERVAL '10' MINUTES)) GROUP BY window_start, window_end",
    reference:
      "SELECT ws::text AS c1, (ws + interval '10 minutes')::text AS c2, count(*)::text AS c3, sum(x)::text AS c4, " +
      "max(bid)::text AS c5 FROM (SELECT date_bin('10 minutes', ts, '1970-01-01') AS ws, x, bid FROM ref.c " +
      'WHERE ts IS NOT NULL) w GROUP BY ws ORDER BY ws',
    result: 'SELECT ws::text, we::text, n::text, sx::text, mb::text FROM q_tumble ORDER BY ws',
  },
  {
    name: 'q_hop_with',
    sinkColumns: 'ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, mx INT, PRIMARY KEY (ws, we) NOT ENFORCED',
    select:
      'WITH valued AS (SELECT id, x, ts FROM c WHERE x IS NOT NULL) ' +
      'SELECT window_start, window_end, COUNT(*), MIN(x) FROM TABLE(HOP(TABLE valued, DESCRIPTOR(ts), ' +
      "INTERVAL '5' MINUTES, INTERVAL '15' MINUTES)) GROUP BY window_start, window_end",
    reference:
      "SELECT ws::text AS c1, (ws + interval '15 minutes')::text AS c2, count(*)::text AS c3, min(x)::text AS c4 " +
      "FROM ref.c CROSS JOIN LATERAL generate_series(date_bin('5 minutes', ts, '1970-01-01') - interval '10 minutes', " +
      "date_bin('5 minutes', ts, '1970-01-01'), interval '5 minutes') AS ws WHERE x IS NOT NULL AND ts IS NOT NULL " +
      'GROUP BY ws ORDER BY ws',
    result: 'SELECT ws::text, we::text, n::text, mx::text FROM q_hop_with ORDER BY ws',
  },
  {
    name: 'q_cumulate',
    sinkColumns: 'ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, sx BIGINT, PRIMARY KEY (ws, we) NOT ENFORCED',
    select:
      'SELECT window_start, window_end, COUNT(*), SUM(x) FROM TABLE(CUMULATE(TABLE c, DESCRIPTOR(ts), ' +
      "INTERVAL '10' MINUTES, INTERVAL '1' HOUR)) GROUP BY window_start, window_end",
    reference:
      "SELECT date_bin('1 hour', ts, '1970-01-01')::text AS c1, we::text AS c2, count(*)::text AS c3, " +
      "sum(x)::text AS c4 FROM ref.c CROSS JOIN LATERAL generate_series(date_bin('10 minutes', ts, '1970-01-01') + " +
      "interval '10 minutes', date_bin('1 hour', ts, '1970-01-01') + interval '1 hour', interval '10 minutes') AS we " +
      "WHERE ts IS NOT NULL GROUP BY date_bin('1 hour', ts, '1970-01-01'), we ORDER BY 1, we",
    result: 'SELECT ws::text, we::text, n::text, sx::text FROM q_cumulate ORDER BY ws, we',
  },
  {
    name: 'q_topn',
    sinkColumns: 'g STRING, rn BIGINT, id BIGINT, v DECIMAL(10, 2), PRIMARY KEY (g, rn) NOT ENFORCED',
    select:
      'SELECT g, rn, id, v FROM (SELECT id, g, v, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v DESC NULLS LAST, id) ' +
      'AS rn FROM a) WHERE rn <= 3',
    reference:
      'SELECT g, rn::text AS c2, id::text AS c3, v::text AS c4 FROM (SELECT id, g, v, row_number() OVER ' +
      '(PARTITION BY g ORDER BY v DESC NULLS LAST, id) AS rn FROM ref.a) t WHERE rn <= 3 ORDER BY g COLLATE "C", rn',
    result: 'SELECT g, rn::text, id::text, v::text FROM q_topn ORDER BY g COLLATE "C", rn',
  },
  {
    name: 'q_rank',
    sinkColumns: 'id BIGINT, g STRING, n INT, rk BIGINT, dr BIGINT, PRIMARY KEY (id) NOT ENFORCED',
    select:
      'SELECT r.id, r.g, r.n, r.rk, d.dr FROM (SELECT id, g, n, RANK() OVER (PARTITION BY g ORDER BY n DESC NULLS LAST) ' +
      'AS rk FROM a) AS r JOIN (SELECT id, DENSE_RANK() OVER (PARTITION BY g ORDER BY n DESC NULLS LAST) AS dr FROM a) ' +
      'AS d ON r.id = d.id WHERE r.rk <= 3 AND d.dr <= 3',
    reference:
      'SELECT id::text AS c1, g, n::text AS c3, rk::text AS c4, dr::text AS c5 FROM (SELECT id, g, n, ' +
      'rank() OVER (PARTITION BY g ORDER BY n DESC NULLS LAST) AS rk, ' +
      'dense_rank() OVER (PARTITION BY g ORDER BY n DESC NULLS LAST) AS dr FROM ref.a) t WHERE rk <= 3 AND dr <= 3 ORDER BY id',
    result: 'SELECT id::text, g, n::text, rk::text, dr::text FROM q_rank ORDER BY q_rank.id',
  },
  {
    name: 'q_top_tags',
    sinkColumns: 'tag STRING, n BIGINT, PRIMARY KEY (tag) NOT ENFORCED',
    select:
      'SELECT b.tag, COUNT(*) AS n FROM a JOIN b ON a.k = b.k WHERE b.tag IS NOT NULL GROUP BY b.tag ' +
      'ORDER BY n DESC, tag LIMIT 3',
    reference:
      'SELECT tag, n::text AS c2 FROM (SELECT b.tag, count(*) AS n FROM ref.a JOIN ref.b ON a.k = b.k ' +
      'WHERE b.tag IS NOT NULL GROUP BY b.tag ORDER BY count(*) DESC, b.tag COLLATE "C" LIMIT 3) t ORDER BY tag COLLATE "C"',
    result: 'SELECT tag, n::text FROM q_top_tags ORDER BY tag COLLATE "C"',
  },
  {
    name: 'q_in_sub',
    sinkColumns: 'id BIGINT, g STRING, v DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED',
    select: 'SELECT a.id, a.g, a.v FROM a WHERE a.k IN (SELECT b.k FROM b WHERE b.tag IS NOT NULL) AND a.v > 0',
    reference:
      'SELECT a.id::text AS c1, a.g, a.v::text AS c3 FROM ref.a WHERE a.k IN (SELECT b.k FROM ref.b WHERE b.tag IS NOT NULL) ' +
      'AND a.v > 0 ORDER BY a.id',
    result: 'SELECT id::text, g, v::text FROM q_in_sub ORDER BY q_in_sub.id',
  },
  {
    name: 'q_tumble_legacy',
    sinkColumns: 'ws TIMESTAMP(3), wt TIMESTAMP(3), n BIGINT, mx INT, PRIMARY KEY (ws) NOT ENFORCED',
    select:
      "SELECT TUMBLE_START(ts, INTERVAL '15' MINUTES), TUMBLE_ROWTIME(ts, INTERVAL '15' MINUTES), COUNT(*), MAX(x) " +
      "FROM c WHERE x IS NOT NULL GROUP BY TUMBLE(ts, INTERVAL '15' MINUTES)",
    reference:
      "SELECT ws::text AS c1, (ws + interval '15 minutes' - interval '1 millisecond')::text AS c2, count(*)::text AS c3, " +
      "max(x)::text AS c4 FROM (SELECT date_bin('15 minutes', ts, '1970-01-01') AS ws, x FROM ref.c " +
      'WHERE ts IS NOT NULL AND x IS NOT NULL) w GROUP BY ws ORDER BY ws',
    result: 'SELECT ws::text, wt::text, n::text, mx::text FROM q_tumble_legacy ORDER BY ws',
  },
  {
    name: 'q_exists',
    sinkColumns: 'id BIGINT, g STRING, PRIMARY KEY (id) NOT ENFORCED',
    select: 'SELECT a.id, a.g FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.k = a.k AND b.w > 0)',
    reference:
      'SELECT a.id::text AS c1, a.g FROM ref.a WHERE EXISTS (SELECT 1 FROM ref.b WHERE b.k = a.k AND b.w > 0) ORDER BY a.id',
    result: 'SELECT id::text, g FROM q_exists ORDER BY q_exists.id',
  },
  {
    name: 'q_not_exists',
    sinkColumns: 'id BIGINT, n INT, PRIMARY KEY (id) NOT ENFORCED',
    select: 'SELECT a.id, a.n FROM a WHERE NOT EXISTS (SELECT * FROM c WHERE c.bid = a.id AND c.x IS NOT NULL)',
    reference:
      'SELECT a.id::text AS c1, a.n::text AS c2 FROM ref.a WHERE NOT EXISTS (SELECT * FROM ref.c WHERE c.bid = a.id ' +
      'AND c.x IS NOT NULL) ORDER BY a.id',
    result: 'SELECT id::text, n::text FROM q_not_exists ORDER BY q_not_exists.id',
  },
  {
    name: 'q_scalar',
    sinkColumns: 'id BIGINT, nc BIGINT, mw DECIMAL(8, 3), PRIMARY KEY (id) NOT ENFORCED',
    select:
      'SELECT a.id, (SELECT COUNT(*) FROM c WHERE c.bid = a.id) AS nc, (SELECT MAX(b.w) FROM b WHERE b.k = a.k) AS mw ' +
      'FROM a WHERE a.n > (SELECT MIN(c.x) FROM c WHERE c.x IS NOT NULL)',
    reference:
      'SELECT a.id::text AS c1, (SELECT count(*) FROM ref.c WHERE c.bid = a.id)::text AS c2, ' +
      '(SELECT max(b.w) FROM ref.b WHERE b.k = a.k)::text AS c3 FROM ref.a ' +
      'WHERE a.n > (SELECT min(c.x) FROM ref.c WHERE c.x IS NOT NULL) ORDER BY a.id',
    result: 'SELECT id::text, nc::text, mw::text FROM q_scalar ORDER BY q_scalar.id',
  },
  {
    // Scalar subqueries in a grouped query: groups come and go as b's rows move the bar, and the difference moves.
    name: 'q_having_scalar',
    sinkColumns: 'g STRING, n BIGINT, d BIGINT, PRIMARY KEY (g) NOT ENFORCED',
    select:
      'SELECT a.g, COUNT(*), COUNT(*) - (SELECT COUNT(*) FROM b WHERE b.k = 1) FROM a GROUP BY a.g ' +
      'HAVING COUNT(*) * 2 >= (SELECT COUNT(*) FROM b WHERE b.w > 0)',
    reference:
      'SELECT g AS c1, count(*)::text AS c2, (count(*) - (SELECT count(*) FROM ref.b WHERE b.k = 1))::text AS c3 ' +
      'FROM ref.a GROUP BY g HAVING count(*) * 2 >= (SELECT count(*) FROM ref.b WHERE b.w > 0) ORDER BY g COLLATE "C"',
    result: 'SELECT g, n::text, d::text FROM q_having_scalar ORDER BY g COLLATE "C"',
  },
  {
    // A few b rows pass the filter, now and then one with a NULL k (then no row is surely not in it), now and then none.
    name: 'q_not_in',
    sinkColumns: 'id BIGINT, k INT, PRIMARY KEY (id) NOT ENFORCED',
    select: 'SELECT a.id, a.k FROM a WHERE a.k NOT IN (SELECT b.k FROM b WHERE b.w > 85)',
    reference:
      'SELECT a.id::text AS c1, a.k::text AS c2 FROM ref.a WHERE a.k NOT IN (SELECT b.k FROM ref.b WHERE b.w > 85) ' +
      'ORDER BY a.id',
    result: 'SELECT id::text, k::text FROM q_not_in ORDER BY q_not_in.id',
  },
  {
    // Many a rows share a k: a value stays while any copy does, on both sides.
    name: 'q_intersect',
    sinkColumns: 'k INT, PRIMARY KEY (k) NOT ENFORCED',
    select: 'SELECT a.k FROM a WHERE a.k IS NOT NULL INTERSECT SELECT b.k FROM b WHERE b.w > 0',
    reference:
      'SELECT k::text AS c1 FROM (SELECT a.k FROM ref.a WHERE a.k IS NOT NULL INTERSECT SELECT b.k FROM ref.b ' +
      'WHERE b.w > 0) t ORDER BY k',
    result: 'SELECT k::text FROM q_intersect ORDER BY q_intersect.k',
  },
  {
    // The same id and k on both sides, NULL k equal to NULL k.
    name: 'q_except',
    sinkColumns: 'id BIGINT, k INT, PRIMARY KEY (id) NOT ENFORCED',
    select: 'SELECT a.id, a.k FROM a EXCEPT SELECT b.id, b.k FROM b',
    reference:
      'SELECT id::text AS c1, k::text AS c2 FROM (SELECT a.id, a.k FROM ref.a EXCEPT SELECT b.id, b.k FROM ref.b) t ' +
      'ORDER BY id',
    result: 'SELECT id::text, k::text FROM q_except ORDER BY q_except.id',
  },
  {
    // Copies counted: a k as many times as both sides hold it (INTERSECT ALL), then the first side's copies beyond the
    // second's (EXCEPT ALL), per k.
    name: 'q_intersect_all',
    sinkColumns: 'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
    select:
      'SELECT t.k, COUNT(*) FROM (SELECT a.k FROM a WHERE a.k IS NOT NULL INTERSECT ALL SELECT b.k FROM b ' +
      'WHERE b.k IS NOT NULL AND b.w > 0) AS t GROUP BY t.k',
    reference:
      'SELECT k::text AS c1, count(*)::text AS c2 FROM (SELECT a.k FROM ref.a WHERE a.k IS NOT NULL INTERSECT ALL ' +
      'SELECT b.k FROM ref.b WHERE b.k IS NOT NULL AND b.w > 0) t GROUP BY k ORDER BY k',
    result: 'SELECT k::text, n::text FROM q_intersect_all ORDER BY q_intersect_all.k',
  },
  {
    name: 'q_except_all',
    sinkColumns: 'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
    select:
      'SELECT t.k, COUNT(*) FROM (SELECT a.k FROM a WHERE a.k IS NOT NULL EXCEPT ALL SELECT b.k FROM b ' +
      'WHERE b.k IS NOT NULL) AS t GROUP BY t.k',
    reference:
      'SELECT k::text AS c1, count(*)::text AS c2 FROM (SELECT a.k FROM ref.a WHERE a.k IS NOT NULL EXCEPT ALL ' +
      'SELECT b.k FROM ref.b WHERE b.k IS NOT NULL) t GROUP BY k ORDER BY k',
    result: 'SELECT k::text, n::text FROM q_except_all ORDER BY q_except_all.k',
  },
  {
    // ~8 rows per g in two hours, 10 minutes the gap: sessions join and split as rows come, move and go.
    name: 'q_session',
    sinkColumns: 'g BIGINT, ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, mx INT, PRIMARY KEY (g, ws) NOT ENFORCED',
    select:
      "SELECT s.g, SESSION_START(s.ts, INTERVAL '10' MINUTES), SESSION_END(s.ts, INTERVAL '10' MINUTES), COUNT(*), " +
      'MAX(s.x) FROM (SELECT bid % 5 AS g, ts, x FROM c WHERE bid IS NOT NULL) AS s ' +
      "GROUP BY s.g, SESSION(s.ts, INTERVAL '10' MINUTES)",
    // Gaps and islands: a row starts a session when it is the gap or more after the one before it.
    reference:
      "SELECT g::text AS c1, min(ts)::text AS c2, (max(ts) + interval '10 minutes')::text AS c3, count(*)::text AS c4, " +
      "max(x)::text AS c5 FROM (SELECT g, ts, x, sum(CASE WHEN prev IS NULL OR ts >= prev + interval '10 minutes' " +
      'THEN 1 ELSE 0 END) OVER (PARTITION BY g ORDER BY ts, id) AS sid FROM (SELECT bid % 5 AS g, ts, x, id, ' +
      'lag(ts) OVER (PARTITION BY bid % 5 ORDER BY ts, id) AS prev FROM ref.c WHERE bid IS NOT NULL AND ts IS NOT NULL) p) t ' +
      'GROUP BY g, sid ORDER BY g, min(ts)',
    result: 'SELECT g::text, ws::text, we::text, n::text, mx::text FROM q_session ORDER BY q_session.g, q_session.ws',
  },
  {
    // Window deduplication: each 15-minute window's last row, keyed by the window alone (rn = 1).
    name: 'q_window_dedup',
    sinkColumns: 'ws TIMESTAMP(3), we TIMESTAMP(3), id BIGINT, x INT, PRIMARY KEY (ws, we) NOT ENFORCED',
    select:
      'SELECT window_start, window_end, id, x FROM (SELECT window_start, window_end, id, x, ROW_NUMBER() OVER ' +
      '(PARTITION BY window_start, window_end ORDER BY ts DESC, id) AS rn FROM ' +
      "TABLE(TUMBLE(TABLE c, DESCRIPTOR(ts), INTERVAL '15' MINUTES))) WHERE rn = 1",
    reference:
      "SELECT ws::text AS c1, (ws + interval '15 minutes')::text AS c2, id::text AS c3, x::text AS c4 FROM (SELECT " +
      "date_bin('15 minutes', ts, '1970-01-01') AS ws, id, x, row_number() OVER (PARTITION BY " +
      "date_bin('15 minutes', ts, '1970-01-01') ORDER BY ts DESC, id) AS rn FROM ref.c WHERE ts IS NOT NULL) t " +
      'WHERE rn = 1 ORDER BY ws',
    result: 'SELECT ws::text, we::text, id::text, x::text FROM q_window_dedup ORDER BY q_window_dedup.ws',
  },
];
/** A CREATE TABLE … AS SELECT: the sink's columns, types and key (tag) come from the query. */
const CTAS_QUERY: Query = {
  name: 'q_ctas',
  sinkColumns: '',
  select:
    'SELECT b.tag, COUNT(*) AS n, MAX(a.v) AS mv FROM a JOIN b ON a.k = b.k WHERE b.tag IS NOT NULL GROUP BY b.tag',
  reference:
    'SELECT b.tag, count(*)::text AS c2, max(a.v)::text AS c3 FROM ref.a JOIN ref.b ON a.k = b.k ' +
    'WHERE b.tag IS NOT NULL GROUP BY b.tag ORDER BY b.tag COLLATE "C"',
  result: 'SELECT tag, n::text, mv::text FROM q_ctas ORDER BY q_ctas.tag COLLATE "C"',
};
const ALL_QUERIES = [...QUERIES, ...SET_QUERIES, CTAS_QUERY];

const BATCHES = 20;
const OPS_PER_BATCH = 40;
const SEED = Number(process.env['SQL_DIFF_SEED'] ?? 12_345);

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed with SQL_DIFF_SEED. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('streaming SQL equals PostgreSQL on random change streams', () => {
  const db = uniqueName('sqldiff');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let jobs: RunningSqlJob[] = [];
  let stateRoot: string;
  const random = prng(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const orNull = (value: string, p = 0.15) => (random() < p ? 'NULL' : value);
  /** A time within two hours (a dozen 10-minute windows), to the millisecond, now and then on a window's edge. */
  const time = () => {
    const ms = random() < 0.2 ? int(0, 12) * 600_000 : int(0, 7_200_000 - 1);
    return `'${new Date(Date.UTC(2026, 11, 6, 10) + ms).toISOString().slice(0, 23).replace('T', ' ')}'`;
  };
  const counts = { changes: 0, batches: 0, comparisons: 0 };

  const script = (query: Query) => {
    const tables = Object.entries(FLINK_TABLES)
      .map(([name, columns]) => `CREATE TABLE ${name} (${columns}) WITH (${mysqlCdcOptions(db, name)});`)
      .join('\n');
    return `${tables}
CREATE TABLE ${query.name} (${query.sinkColumns}) WITH (${jdbcOptions(sink.url, query.name)});
SET 'pipeline.name' = '${query.name}';
SET 'execution.checkpointing.interval' = '200ms';
SET 'state.dir' = '${stateRoot}/${query.name}';
INSERT INTO ${query.name} ${query.select};`;
  };

  const ctasScript = () => {
    const tables = Object.entries(FLINK_TABLES)
      .map(([name, columns]) => `CREATE TABLE ${name} (${columns}) WITH (${mysqlCdcOptions(db, name)});`)
      .join('\n');
    return `${tables}
SET 'execution.checkpointing.interval' = '200ms';
SET 'state.dir' = '${stateRoot}/q_ctas';
CREATE TABLE q_ctas WITH (${jdbcOptions(sink.url, 'q_ctas')}) AS ${CTAS_QUERY.select};`;
  };

  const setScript = () => {
    const tables = Object.entries(FLINK_TABLES)
      .map(([name, columns]) => `CREATE TABLE ${name} (${columns}) WITH (${mysqlCdcOptions(db, name)});`)
      .join('\n');
    const sinks = SET_QUERIES.map(
      (q) => `CREATE TABLE ${q.name} (${q.sinkColumns}) WITH (${jdbcOptions(sink.url, q.name)});`,
    ).join('\n');
    return `${tables}
${sinks}
${SET_PRELUDE}
SET 'pipeline.name' = 'q_set';
SET 'execution.checkpointing.interval' = '200ms';
SET 'state.dir' = '${stateRoot}/q_set';
BEGIN STATEMENT SET;
${SET_QUERIES.map((q) => `INSERT INTO ${q.name} ${q.select};`).join('\n')}
END;`;
  };

  const startJobs = async () => {
    // The first job alone until the sink's checkpoint table exists: several sinks creating it at once on a
    // fresh database race (CREATE TABLE IF NOT EXISTS is not atomic in PostgreSQL).
    jobs = [startSqlJob(script(QUERIES[0]!))];
    await waitFor(
      async () => (await sink.query(`SELECT to_regclass('tributary.checkpoints') AS t`))[0]?.['t'] !== null,
      {
        timeoutMs: 60_000,
        message: 'the first job to open its sink',
      },
    );
    jobs.push(
      ...QUERIES.slice(1).map((q) => startSqlJob(script(q))),
      startSqlJob(setScript()),
      startSqlJob(ctasScript()),
    );
  };

  const copyToReference = async () => {
    for (const table of Object.keys(TABLES)) {
      await sink.query(`TRUNCATE ref.${table}`);
      const rows = await mysqlRows(source, `SELECT * FROM ${db}.${table}`);
      if (rows.length === 0) continue;
      const width = rows[0]!.length;
      const values = rows.map(
        (_, r) => `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`).join(', ')})`,
      );
      await sink.query(`INSERT INTO ref.${table} VALUES ${values.join(', ')}`, rows.flat());
    }
  };

  const compareAll = async (): Promise<string[]> => {
    const differing: string[] = [];
    for (const query of ALL_QUERIES) {
      const expected = JSON.stringify(textRows(await sink.query(query.reference)));
      const actual = JSON.stringify(textRows(await sink.query(query.result).catch(() => [{ missing: 'table' }])));
      if (expected !== actual) differing.push(query.name);
    }
    return differing;
  };

  const converge = async (when: string) => {
    await copyToReference();
    let differing: string[] = [];
    await waitFor(
      async () => {
        differing = await compareAll();
        return differing.length === 0;
      },
      { timeoutMs: 60_000, intervalMs: 300, message: `the results converge ${when}` },
    ).catch(async (error: unknown) => {
      for (const name of differing) {
        const query = ALL_QUERIES.find((q) => q.name === name)!;
        console.log(name, 'expected', JSON.stringify(textRows(await sink.query(query.reference))));
        console.log(name, 'actual  ', JSON.stringify(textRows(await sink.query(query.result).catch(() => []))));
      }
      for (const job of jobs) {
        const state = await Promise.race([
          job.done.then(
            (r) => r.outcome,
            (e: unknown) => (e instanceof Error ? `${e.message}\n${e.stack}` : String(e)),
          ),
          new Promise((resolve) => setTimeout(() => resolve('running'), 100)),
        ]);
        console.log(`${job.logs.slice(-5).join('\n')}\njob: ${String(state)}`);
      }
      throw error;
    });
    counts.comparisons += ALL_QUERIES.length;
  };

  const ids = async (table: string): Promise<number[]> =>
    (await mysqlRows(source, `SELECT id FROM ${db}.${table}`)).map((r) => Number(r[0]));

  const rowValues = (table: string, id: number): string => {
    switch (table) {
      case 'a':
        return `${id}, ${orNull(String(int(0, 4)))}, '${pick(['g0', 'g1', 'g2', 'g3'])}', ${orNull(`${int(-5000, 5000) / 100}`)}, ${orNull(String(int(-100, 100)))}`;
      case 'b':
        return `${id}, ${orNull(String(int(0, 4)))}, ${orNull(`${int(-99999, 99999) / 1000}`)}, ${orNull(`'${pick(['t0', 't1', 't2', 't3'])}'`)}`;
      default:
        return `${id}, ${orNull(String(int(1, 40)))}, ${orNull(String(int(-1000, 1000)))}, ${orNull(time())}`;
    }
  };

  /** One random change; returns the SQL statements. */
  const change = async (): Promise<string[]> => {
    const table = pick(['a', 'b', 'c']);
    const existing = await ids(table);
    const free = () => {
      let id = int(1, 80);
      while (existing.includes(id)) id = int(1, 80);
      return id;
    };
    const roll = random();
    if (existing.length < 8 || roll < 0.35) return [`INSERT INTO ${db}.${table} VALUES (${rowValues(table, free())})`];
    const id = pick(existing);
    if (roll < 0.6) {
      const set =
        table === 'a'
          ? pick([
              `k = ${orNull(String(int(0, 4)))}`,
              `v = ${orNull(`${int(-5000, 5000) / 100}`)}`,
              `n = ${orNull(String(int(-100, 100)))}`,
              `g = '${pick(['g0', 'g1', 'g2', 'g3'])}'`,
            ])
          : table === 'b'
            ? pick([
                `k = ${orNull(String(int(0, 4)))}`,
                `w = ${orNull(`${int(-99999, 99999) / 1000}`)}`,
                `tag = ${orNull(`'${pick(['t0', 't1', 't2', 't3'])}'`)}`,
              ])
            : pick([
                `bid = ${orNull(String(int(1, 40)))}`,
                `x = ${orNull(String(int(-1000, 1000)))}`,
                `ts = ${orNull(time())}`,
              ]);
      return [`UPDATE ${db}.${table} SET ${set} WHERE id = ${id}`];
    }
    if (roll < 0.7) return [`UPDATE ${db}.${table} SET id = ${free()} WHERE id = ${id}`];
    if (roll < 0.95) return [`DELETE FROM ${db}.${table} WHERE id = ${id}`];
    // Empty a whole group (or join key) at once.
    return table === 'a'
      ? [`DELETE FROM ${db}.a WHERE g = '${pick(['g0', 'g1', 'g2', 'g3'])}'`]
      : [`DELETE FROM ${db}.${table} WHERE ${table === 'b' ? 'k' : 'bid % 5'} = ${int(0, 4)}`];
  };

  const batch = async () => {
    for (let i = 0; i < OPS_PER_BATCH;) {
      const inTransaction = random() < 0.3;
      const size = inTransaction ? int(2, 5) : 1;
      if (inTransaction) await source.query('START TRANSACTION');
      for (let j = 0; j < size; j++) {
        for (const statement of await change()) {
          const [result] = (await source.query(statement)) as unknown as [{ affectedRows: number }];
          counts.changes += result.affectedRows;
        }
      }
      if (inTransaction) await source.query('COMMIT');
      i += size;
    }
    counts.batches++;
  };

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    for (const [name, columns] of Object.entries(TABLES)) await source.query(`CREATE TABLE ${db}.${name} (${columns})`);
    sink = await freshPostgresDatabase('sqldiff');
    await sink.query('CREATE SCHEMA ref');
    for (const [name, columns] of Object.entries(PG_TABLES)) await sink.query(`CREATE TABLE ref.${name} (${columns})`);
    stateRoot = await testTempDir('sqldiff-state');
    // The initial rows reach the jobs through the snapshot.
    for (let i = 0; i < 40; i++) {
      for (const table of ['a', 'b', 'c'])
        await source.query(`INSERT IGNORE INTO ${db}.${table} VALUES (${rowValues(table, int(1, 80))})`);
    }
  });

  afterAll(async () => {
    await Promise.allSettled(jobs.map((job) => job.stop()));
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it(`keeps ${ALL_QUERIES.length} queries equal to PostgreSQL's answer after each of ${BATCHES} random batches`, async () => {
    // The queries whose plans pre-aggregate a table below their joins (eager aggregation) are among them.
    const eager = QUERIES.filter((query) => {
      const { session, statements } = SqlSession.parse(script(query));
      statements.forEach((statement) => session.declare(statement));
      const insert = statements.find((statement): statement is InsertStatement => statement.kind === 'insert')!;
      return /\b(SUM0|SUM|MIN|MAX)\((COUNT|SUM|MIN|MAX)\(/.test(session.plan(insert).explain);
    });
    expect(eager.map((query) => query.name)).toEqual(['q_group_dep', 'q_eager3']);
    await startJobs();
    await converge('after the snapshot');
    for (let b = 0; b < BATCHES; b++) {
      await batch();
      await converge(`after batch ${b + 1}`);
      if (b === Math.floor(BATCHES / 2)) {
        // A clean stop and a new start: the rest runs on state restored from the jobs' checkpoints.
        const results = await Promise.all(jobs.map((job) => job.stop()));
        expect(results.map((r) => r.outcome)).toEqual(jobs.map(() => 'stopped'));
        await startJobs();
      }
    }
    console.log(
      `SQL differential (seed ${SEED}): ${counts.batches} batches, ${counts.changes} row changes, ` +
        `${ALL_QUERIES.length} queries (${SET_QUERIES.length} in one statement set, 1 CREATE TABLE AS), ${counts.comparisons} comparisons with PostgreSQL`,
    );
  }, 900_000);
});
