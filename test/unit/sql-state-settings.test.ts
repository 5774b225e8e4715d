import { describe, expect, it } from 'vitest';
import { SqlSession, sqlStateOptions, STATE_CACHE_SIZE } from '../../src/composer/sql-job.js';
import { parseMemorySize } from '../../src/core/memory-size.js';
import { SqlError } from '../../src/sql/sql-error.js';
import { DEFAULT_CACHE_BYTES } from '../../src/sql/exec/disk-state.js';
import { thrown } from '../harness/thrown.js';

/** The session after running `script` (its SET statements). */
function session(script: string): SqlSession {
  const parsed = SqlSession.parse(script);
  parsed.statements.forEach((s) => parsed.session.declare(s));
  return parsed.session;
}

function failure(script: string): SqlError {
  return thrown(() => session(script), SqlError);
}

describe('memory sizes as Flink writes them', () => {
  it('reads whole amounts in bytes, KiB, MiB and GiB, with or without a space, in any case', () => {
    expect(parseMemorySize('64mb')).toBe(64 * 1024 * 1024);
    expect(parseMemorySize('512 KB')).toBe(512 * 1024);
    expect(parseMemorySize('1g')).toBe(1024 ** 3);
    expect(parseMemorySize('2 gibibytes')).toBe(2 * 1024 ** 3);
    expect(parseMemorySize('4096')).toBe(4096);
  });

  it('refuses fractions, negative amounts, unknown units and empty text', () => {
    for (const text of ['1.5mb', '-1mb', '64 xb', '', 'mb', '64 m b']) expect(parseMemorySize(text)).toBeUndefined();
  });
});

describe(`SET '${STATE_CACHE_SIZE}'`, () => {
  it("sets the state cache's budget; without it the job keeps the default", () => {
    expect(sqlStateOptions(session(`SET '${STATE_CACHE_SIZE}' = '40 mb';`).settings)).toEqual({
      ttlMs: 0,
      cacheBytes: 40 * 1024 * 1024,
    });
    const defaults = sqlStateOptions(session("SET 'table.exec.state.ttl' = '12 h';").settings);
    expect(defaults).toEqual({ ttlMs: 12 * 3_600_000 });
    expect(DEFAULT_CACHE_BYTES).toBe(64 * 1024 * 1024);
  });

  it('takes the value from the environment like every option', () => {
    process.env['TRIBUTARY_TEST_CACHE'] = '256mb';
    try {
      const { settings } = session(`SET '${STATE_CACHE_SIZE}' = '\${TRIBUTARY_TEST_CACHE}';`);
      expect(sqlStateOptions(settings).cacheBytes).toBe(256 * 1024 * 1024);
    } finally {
      delete process.env['TRIBUTARY_TEST_CACHE'];
    }
  });

  it('refuses a value that is not a size, or under 1 mb, at its statement with the fix', () => {
    const notSize = failure(`SET 'pipeline.name' = 'j';\nSET '${STATE_CACHE_SIZE}' = 'lots';`);
    expect(notSize.message).toContain("'lots' is not a memory size");
    expect(notSize.message).toMatch(/line 2/);
    expect(notSize.hint).toContain("'256 mb'");
    expect(failure(`SET '${STATE_CACHE_SIZE}' = '512 kb';`).message).toContain("'512 kb' is less than 1 mb");
  });

  it('still refuses a TTL that is not a duration', () => {
    expect(failure("SET 'table.exec.state.ttl' = 'soon';").message).toContain("'soon' is not a duration");
  });
});
