/**
 * JSON with exact numbers. `JSON.parse` turns every number into a double, so `9007199254740993` or a decimal with
 * 20 digits would change on the way in; this parser keeps each number as its source text ({@link JsonNumber}) and
 * leaves the conversion to the caller, who knows the column's type. Writing goes through {@link jsonText}, which
 * prints bigints and {@link JsonNumber}s as their digits.
 */
export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/** A JSON number, as written. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber);
}

/** Thrown for text that is not JSON; `offset` is where the parser stopped. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
    this.name = 'JsonSyntaxError';
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Parses JSON text (RFC 8259); numbers stay text. */
export function parseJson(text: string): JsonValue {
  let at = 0;
  const skip = (): void => {
    for (;;) {
      const c = text.charCodeAt(at);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) at++;
      else return;
    }
  };
  const fail = (message: string): never => {
    throw new JsonSyntaxError(message, at);
  };
  const string = (): string => {
    // at points to the opening quote; the JSON string grammar is the one JSON.parse reads, so let it decode.
    let end = at + 1;
    for (;;) {
      const c = text.charCodeAt(end);
      if (Number.isNaN(c)) fail('unterminated string');
      if (c === 0x5c) end += 2;
      else if (c === 0x22) break;
      else end++;
    }
    const raw = text.slice(at, end + 1);
    at = end + 1;
    try {
      return JSON.parse(raw) as string;
    } catch {
      return fail('bad string');
    }
  };
  const value = (): JsonValue => {
    skip();
    const c = text[at];
    if (c === '{') {
      at++;
      const out: Record<string, JsonValue> = {};
      skip();
      if (text[at] === '}') {
        at++;
        return out;
      }
      for (;;) {
        skip();
        if (text[at] !== '"') fail('expected a key');
        const key = string();
        skip();
        if (text[at] !== ':') fail("expected ':'");
        at++;
        Object.defineProperty(out, key, { value: value(), enumerable: true, writable: true, configurable: true });
        skip();
        if (text[at] === ',') at++;
        else if (text[at] === '}') {
          at++;
          return out;
        } else fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      at++;
      const out: JsonValue[] = [];
      skip();
      if (text[at] === ']') {
        at++;
        return out;
      }
      for (;;) {
        out.push(value());
        skip();
        if (text[at] === ',') at++;
        else if (text[at] === ']') {
          at++;
          return out;
        } else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', at)) {
      at += 4;
      return true;
    }
    if (text.startsWith('false', at)) {
      at += 5;
      return false;
    }
    if (text.startsWith('null', at)) {
      at += 4;
      return null;
    }
    NUMBER.lastIndex = at;
    const match = NUMBER.exec(text);
    if (match === null) return fail('unexpected character');
    at += match[0].length;
    return new JsonNumber(match[0]);
  };
  const result = value();
  skip();
  if (at !== text.length) fail('unexpected text after the value');
  return result;
}

/** A value to write: like {@link JsonValue}, plus bigints and plain numbers. `undefined` members are left out. */
export type JsonOut =
  | null
  | boolean
  | string
  | number
  | bigint
  | JsonNumber
  | readonly JsonOut[]
  | { readonly [key: string]: JsonOut | undefined };

/** JSON text of `value`, members in insertion order, no spaces; bigints and {@link JsonNumber}s exact. */
export function jsonText(value: JsonOut): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) return 'null';
      return JSON.stringify(value);
    case 'bigint':
      return value.toString();
    default:
      break;
  }
  if (value instanceof JsonNumber) return value.text;
  if (Array.isArray(value)) return `[${(value as readonly JsonOut[]).map(jsonText).join(',')}]`;
  const parts: string[] = [];
  for (const [key, member] of Object.entries(value as { readonly [key: string]: JsonOut | undefined })) {
    if (member !== undefined) parts.push(`${JSON.stringify(key)}:${jsonText(member)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * The shortest decimal text that reads back as the same 32-bit float (Java's `Float.toString` digits), so a
 * MySQL FLOAT of 5.18 is written `5.18`, not the `5.179999828338623` of its widened double.
 */
export function float32Text(value: number): string {
  if (!Number.isFinite(value) || Math.fround(value) !== value) return String(value);
  for (let digits = 1; digits <= 9; digits++) {
    const text = String(Number(value.toPrecision(digits)));
    if (Math.fround(Number(text)) === value) return text;
  }
  return String(value);
}
