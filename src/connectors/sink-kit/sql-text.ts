import { TributaryError } from '../../core/errors.js';

/**
 * A quoted SQL identifier: always quoted, so mixed case, reserved words and any character survive exactly as
 * the source spelled them (`Order` stays `Order`, not `order`).
 */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A string literal for the few statements that cannot take parameters. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Throws SINK_SCHEMA_MISMATCH for a name no SQL sink can hold: empty, or with a NUL character. */
export function checkIdentifier(name: string, what: string): void {
  if (name === '') {
    throw new TributaryError('SINK_SCHEMA_MISMATCH', `${what} has an empty name`, {
      hint: 'route the table to a non-empty name',
    });
  }
  if (name.includes('\0')) {
    throw new TributaryError('SINK_SCHEMA_MISMATCH', `${what} ${JSON.stringify(name)} contains a NUL character`, {
      hint: 'route the table or rename the column so that its name has no NUL character',
    });
  }
}
