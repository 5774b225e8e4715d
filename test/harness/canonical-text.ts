import type { DataType, Value } from '../../src/core/data-type.js';

/**
 * The canonical text of a value: how the conformance suite compares what a sink holds with what was written,
 * whatever the sink's own types. Sinks' readers render their values into it (`canonicalSinkText`), and the
 * written value is rendered with {@link canonicalText}; both pass through {@link normalizeText}.
 *
 * integers, decimals: the exact decimal digits · float/double: JavaScript's shortest text of the (float32)
 * value · boolean: true/false · bytes: lower-case hex · temporal: the canonical form without a zero fraction
 * · timestamptz: UTC with a trailing Z · json: keys sorted, no white space, numbers' digits as written.
 */
export function canonicalText(value: Value, type: DataType): string | null {
  if (value === null) return null;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return normalizeText(String(type.kind === 'float' && typeof value === 'number' ? Math.fround(value) : value), type);
}

/** Brings a canonical text into the one form per value that the comparison needs. */
export function normalizeText(text: string, type: DataType): string {
  switch (type.kind) {
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      // A fraction of zeros says nothing; trailing zeros neither.
      return text.replace(/\.(\d*?)0+(?=Z?$)/, (_, digits: string) => (digits === '' ? '' : `.${digits}`));
    case 'json':
      return normalizeJson(text);
    default:
      return text;
  }
}

/** JSON with sorted keys and no white space; numbers keep their digits (no loss beyond 2^53). */
export function normalizeJson(text: string): string {
  let i = 0;
  const space = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (): string => {
    space();
    const c = text[i];
    if (c === '{') {
      i++;
      const members: [string, string][] = [];
      space();
      if (text[i] === '}') i++;
      else
        for (;;) {
          space();
          const key = string();
          space();
          i++; // ':'
          members.push([key, value()]);
          space();
          if (text[i++] === '}') break;
        }
      members.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${members.map(([k, v]) => `${k}:${v}`).join(',')}}`;
    }
    if (c === '[') {
      i++;
      const items: string[] = [];
      space();
      if (text[i] === ']') i++;
      else
        for (;;) {
          items.push(value());
          space();
          if (text[i++] === ']') break;
        }
      return `[${items.join(',')}]`;
    }
    if (c === '"') return string();
    const start = i;
    while (i < text.length && !',]} \t\n\r'.includes(text[i]!)) i++;
    return text.slice(start, i);
  };
  const string = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.stringify(JSON.parse(text.slice(start, i)) as string);
  };
  return value();
}
