import { describe, expect, it } from 'vitest';
import { classifyPostgresError, type PostgresErrorContext } from '../../src/connectors/postgres/postgres-errors.js';
import { postgresSinkConfig, describePostgresTarget } from '../../src/connectors/postgres/postgres-sink-config.js';
import { TributaryError } from '../../src/core/errors.js';

const context: PostgresErrorContext = {
  phase: 'write',
  target: 'app@db.example:5432/warehouse',
  username: 'app',
  database: 'warehouse',
  password: 's3cret-pw',
};
const pgError = (code: string, message = 'boom', extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { code, ...extra });

describe('classifyPostgresError', () => {
  it.each([
    ['42P07', {}],
    ['42P06', {}],
    ['42701', {}],
    ['23505', { constraint: 'pg_namespace_nspname_index' }],
  ])('%s from two sessions creating one object at once is retried', (code, extra) => {
    const error = classifyPostgresError(pgError(code, 'duplicate', extra), context);
    expect([error.code, error.retryable]).toEqual(['SINK_WRITE_FAILED', true]);
  });

  it('a unique violation of a user table is not retried (the same rows fail the same way)', () => {
    const error = classifyPostgresError(pgError('23505', 'duplicate', { constraint: 'orders_pkey' }), context);
    expect(error.retryable).toBe(false);
  });

  it.each([
    ['28P01', 'SINK_AUTH_FAILED', false],
    ['28000', 'SINK_AUTH_FAILED', false],
    ['3D000', 'SINK_DATABASE_MISSING', false],
    ['42501', 'SINK_PRIVILEGES_MISSING', false],
    ['ECONNREFUSED', 'SINK_UNREACHABLE', true],
    ['ENOTFOUND', 'SINK_UNREACHABLE', true],
    ['57P01', 'SINK_UNREACHABLE', true],
    ['57P03', 'SINK_UNREACHABLE', true],
    ['08006', 'SINK_UNREACHABLE', true],
    ['53300', 'SINK_TOO_MANY_CONNECTIONS', true],
    ['53200', 'SINK_OUT_OF_RESOURCES', true],
    ['54000', 'SINK_OUT_OF_RESOURCES', true],
    ['54001', 'SINK_OUT_OF_RESOURCES', true],
    ['53400', 'SINK_OUT_OF_RESOURCES', true],
    ['42P01', 'SINK_SCHEMA_MISMATCH', false],
    ['22001', 'SINK_WRITE_FAILED', false],
    ['23502', 'SINK_WRITE_FAILED', false],
    ['40001', 'SINK_WRITE_FAILED', true],
    ['40P01', 'SINK_WRITE_FAILED', true],
    ['53100', 'SINK_OUT_OF_RESOURCES', true],
  ])('%s → %s (retryable %s)', (code, expected, retryable) => {
    const error = classifyPostgresError(pgError(code), context);
    expect(error.code).toBe(expected);
    expect(error.retryable).toBe(retryable);
    expect(error.hint).toBeTruthy();
  });

  it('treats a code-less error after a lost connection as unreachable', () => {
    const error = classifyPostgresError(new Error('Connection terminated unexpectedly'), {
      ...context,
      connectionLost: true,
    });
    expect(error.code).toBe('SINK_UNREACHABLE');
    expect(error.retryable).toBe(true);
  });

  it('names the option to change and never the password', () => {
    const error = classifyPostgresError(pgError('28P01', 'password authentication failed for s3cret-pw'), context);
    expect(error.hint).toMatch(/`password`/);
    expect(error.format()).not.toContain('s3cret-pw');
    expect(String((error.cause as Error).message)).not.toContain('s3cret-pw');
    const missing = classifyPostgresError(pgError('3D000'), context);
    expect(missing.hint).toMatch(/`database`/);
  });

  it('names the server setting and the option that lower what a transaction needs', () => {
    const error = classifyPostgresError(pgError('53200', 'out of shared memory'), {
      ...context,
      table: 'public.t4140',
    });
    expect(error.hint).toMatch(/max_locks_per_transaction/);
    expect(error.hint).toMatch(/`commit.max-tables`/);
    expect(error.message).toContain('public.t4140');
    expect(classifyPostgresError(pgError('53300'), context).hint).toMatch(/max_connections/);
  });

  it('keeps an existing TributaryError', () => {
    const original = new TributaryError('SINK_SCHEMA_MISMATCH', 'x');
    expect(classifyPostgresError(original, context)).toBe(original);
  });
});

describe('postgresSinkConfig', () => {
  it('takes the url parts and falls back to the fields for the rest', () => {
    const config = postgresSinkConfig({
      url: 'postgres://app@db.example:6543/warehouse?sslmode=require',
      password: 'pw',
    });
    expect(config).toMatchObject({
      hostname: 'db.example',
      port: 6543,
      username: 'app',
      password: 'pw',
      database: 'warehouse',
      tls: { mode: 'required' },
    });
    expect(config.schema).toBe('public');
    expect(config.checkpointSchema).toBe('tributary');
    expect(config.checkpointTable).toBe('checkpoints');
    expect(describePostgresTarget(config)).toBe('app@db.example:6543/warehouse');
  });

  it('decodes a percent-encoded password and keeps it out of the description', () => {
    const config = postgresSinkConfig({ url: 'postgresql://u:p%40ss%2Fw@h/d' });
    expect(config.password).toBe('p@ss/w');
    expect(describePostgresTarget(config)).not.toContain('p@ss');
  });

  it('requires a database, and never echoes a bad url', () => {
    expect(() => postgresSinkConfig({ hostname: 'h' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', hint: expect.stringContaining('`database`') }),
    );
    try {
      postgresSinkConfig({ url: 'postgres://u:topsecret@[bad/d' });
      expect.unreachable();
    } catch (error) {
      expect((error as TributaryError).code).toBe('CONFIG_INVALID');
      expect((error as TributaryError).format()).not.toContain('topsecret');
    }
  });
});
