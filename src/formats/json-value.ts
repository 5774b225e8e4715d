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
    // at points to the opening quote. Without escapes the text is the string; with them, JSON.parse decodes.
    let end = at + 1;
    let escaped = false;
    for (;;) {
      const c = text.charCodeAt(end);
      if (Number.isNaN(c)) fail('unterminated string');
      if (c === 0x5c) {
        escaped = true;
        end += 2;
      } else if (c === 0x22) break;
      else end++;
    }
    const start = at;
    at = end + 1;
    if (!escaped) return text.slice(start + 1, end);
    try {
      return JSON.parse(text.slice(start, end + 1)) as string;
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
        const member = value();
        if (key === '__proto__') {
          Object.defineProperty(out, key, { value: member, enumerable: true, writable: true, configurable: true });
        } else out[key] = member;
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

/**
 * For `{"schema":…,"payload":…}` as written without spaces (Kafka Connect's JSON converter, Tributary): the text
 * of the schema part and of the payload, found by one scan, so a reader can cache what it derives from a schema
 * it has seen and parse only the payload. Undefined for any other layout (then parse the whole text).
 * `known`: a schema text seen before (the previous message's); when `text` has exactly that schema part, it is
 * returned as the schema (the same string) without scanning it.
 */
export function splitSchemaPayload(text: string, known?: string): { schema: string; payload: string } | undefined {
  const head = '{"schema":';
  if (!text.startsWith(head)) return undefined;
  const start = head.length;
  const middle = ',"payload":';
  if (
    known !== undefined &&
    text.startsWith(known, start) &&
    text.startsWith(middle, start + known.length) &&
    text.endsWith('}')
  ) {
    return { schema: known, payload: text.slice(start + known.length + middle.length, -1) };
  }
  let depth = 0;
  let i = start;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) break;
    }
  }
  const schemaEnd = i + 1;
  if (depth !== 0 || !text.startsWith(middle, schemaEnd) || !text.endsWith('}')) return undefined;
  return { schema: text.slice(start, schemaEnd), payload: text.slice(schemaEnd + middle.length, -1) };
}
