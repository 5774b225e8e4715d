import type { Value } from '../../core/data-type.js';

/**
 * Thrown by {@link encodeCopyValue} for a string that PostgreSQL cannot store (it contains a NUL character).
 * The writer turns it into SINK_WRITE_FAILED naming the table and column.
 */
export class CopyNulCharacterError extends Error {
  constructor() {
    super('text contains a NUL character (U+0000), which PostgreSQL text types cannot store');
    this.name = 'CopyNulCharacterError';
  }
}

/** In COPY text format a field must not contain a raw backslash, tab, newline or carriage return. */
const NEEDS_ESCAPE = /[\\\t\n\r\0]/;

/** The NULL marker of COPY text format. */
export const COPY_NULL = '\\N';

/**
 * One value as a field of PostgreSQL's COPY text format, from the canonical JS representation of
 * core/data-type.ts. The text is what PostgreSQL's input function of the column type accepts:
 * booleans `t`/`f`; integers and bigints in decimal; doubles with full precision (`String(n)` round-trips)
 * and `NaN`/`Infinity`/`-Infinity`/`-0` spelled as PostgreSQL reads them; bytes as bytea hex (`\\x…` with the
 * backslash escaped); strings (decimals, dates, times, JSON text …) as they are with backslash, tab, newline
 * and carriage return escaped. A string holding a NUL character throws {@link CopyNulCharacterError}.
 */
export function encodeCopyValue(value: Value): string {
  switch (typeof value) {
    case 'string':
      return NEEDS_ESCAPE.test(value) ? escapeText(value) : value;
    case 'number':
      return encodeNumber(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 't' : 'f';
    case 'object':
      if (value === null) return COPY_NULL;
      return '\\\\x' + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
    default:
      return COPY_NULL;
  }
}

function encodeNumber(value: number): string {
  if (Number.isFinite(value)) return value === 0 && Object.is(value, -0) ? '-0' : String(value);
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? 'Infinity' : '-Infinity';
}

function escapeText(value: string): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    let replacement: string;
    switch (value.charCodeAt(i)) {
      case 0x5c:
        replacement = '\\\\';
        break;
      case 0x09:
        replacement = '\\t';
        break;
      case 0x0a:
        replacement = '\\n';
        break;
      case 0x0d:
        replacement = '\\r';
        break;
      case 0x00:
        throw new CopyNulCharacterError();
      default:
        continue;
    }
    out += value.slice(start, i) + replacement;
    start = i + 1;
  }
  return out + value.slice(start);
}
