import { describe, expect, it } from 'vitest';
import { classifyDuckdbError, duckdbErrorType } from '../../src/connectors/duckdb/duckdb-errors.js';
import { TributaryError } from '../../src/core/errors.js';

const path = '/data/warehouse.duckdb';

describe('classifyDuckdbError', () => {
  it('reads the exception type DuckDB puts in front of every message', () => {
    expect(duckdbErrorType(new Error('Constraint Error: Duplicate key "id: 1"'))).toBe('Constraint');
    expect(duckdbErrorType(new Error('Out of Range Error: Overflow in multiplication'))).toBe('Out of Range');
    expect(duckdbErrorType(new Error('TransactionContext Error: Conflict on update'))).toBe('TransactionContext');
    expect(duckdbErrorType(new Error('something else'))).toBeUndefined();
  });

  it('reports a locked file while opening as SINK_UNREACHABLE, retryable, with a hint on `path`', () => {
    const error = classifyDuckdbError(
      new Error(
        'IO Error: Could not set lock on file "/data/warehouse.duckdb": Conflicting lock is held in node (PID 7)',
      ),
      { phase: 'open', path },
    );
    expect(error.code).toBe('SINK_UNREACHABLE');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(path);
    expect(error.hint).toContain('`path`');
  });

  it('makes values that do not fit non-retryable write failures naming the table', () => {
    for (const message of [
      'Constraint Error: NOT NULL constraint failed: t.v',
      'Conversion Error: Could not convert string "x" to DECIMAL(4,1)',
      'Out of Range Error: Cannot cast value 300 to TINYINT',
      'Invalid Input Error: Malformed JSON',
    ]) {
      const error = classifyDuckdbError(new Error(message), { phase: 'write', path, table: 'shop.orders' });
      expect(error.code).toBe('SINK_WRITE_FAILED');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain('shop.orders');
    }
  });

  it('makes transient write failures retryable and missing tables schema mismatches', () => {
    const transient = classifyDuckdbError(new Error('IO Error: Could not write file: No space left on device'), {
      phase: 'write',
      path,
    });
    expect(transient.code).toBe('SINK_WRITE_FAILED');
    expect(transient.retryable).toBe(true);
    const conflict = classifyDuckdbError(new Error('TransactionContext Error: Catalog write-write conflict'), {
      phase: 'write',
      path,
    });
    expect(conflict.retryable).toBe(true);
    const missing = classifyDuckdbError(new Error('Catalog Error: Table with name orders does not exist!'), {
      phase: 'write',
      path,
    });
    expect(missing.code).toBe('SINK_SCHEMA_MISMATCH');
  });

  it('reports running out of memory as SINK_OUT_OF_RESOURCES with the option that shrinks a transaction', () => {
    const error = classifyDuckdbError(new Error('Out of Memory Error: failed to allocate data of size 16.0 MiB'), {
      phase: 'write',
      path,
    });
    expect(error.code).toBe('SINK_OUT_OF_RESOURCES');
    expect(error.retryable).toBe(true);
    expect(error.hint).toContain('`commit.max-tables`');
  });

  it('keeps a TributaryError as it is', () => {
    const original = new TributaryError('SINK_SCHEMA_MISMATCH', 'x');
    expect(classifyDuckdbError(original, { phase: 'write', path })).toBe(original);
  });
});
