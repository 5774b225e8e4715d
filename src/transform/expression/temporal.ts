/**
 * Dates, times and timestamps as exact integers, and back to the canonical text forms of data-type.ts:
 * a date is days since 1970-01-01, a time is microseconds since midnight, a timestamp is microseconds since
 * 1970-01-01 00:00:00 (of the wall clock for `timestamp`, of UTC for `timestamptz`). Civil-calendar
 * arithmetic is done by formula (proleptic Gregorian), never through `Date`, so years 1..9999 and
 * microseconds survive.
 */
import { civilFromDays, daysFromCivil } from '../../core/civil-calendar.js';

const MICROS_PER_SECOND = 1_000_000n;
const MICROS_PER_DAY = 86_400_000_000n;

export { civilFromDays, daysFromCivil };

export function daysInMonth(year: number, month: number): number {
  return daysFromCivil(month === 12 ? year + 1 : year, month === 12 ? 1 : month + 1, 1) - daysFromCivil(year, month, 1);
}

const DATE = /^(\d{1,4})-(\d{1,2})-(\d{1,2})$/;
const TIMESTAMP =
  /^(\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const TIME = /^(-?)(\d+):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?$/;

function validCivil(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/** 'YYYY-MM-DD' → days; undefined when it is not a valid date. */
export function parseDate(text: string): number | undefined {
  const m = DATE.exec(text.trim());
  if (m === null)
    return parseTimestamp(text) === undefined ? undefined : Number(floorDiv(parseTimestamp(text)!, MICROS_PER_DAY));
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return validCivil(year, month, day) ? daysFromCivil(year, month, day) : undefined;
}

export function formatDate(days: number): string {
  const { year, month, day } = civilFromDays(days);
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
}

/**
 * 'YYYY-MM-DD[ HH:MM[:SS[.f…]]][Z|±HH:MM]' → microseconds; a zone suffix shifts the value to UTC. A date alone
 * is its midnight. Digits beyond microseconds are dropped.
 */
export function parseTimestamp(text: string): bigint | undefined {
  const m = TIMESTAMP.exec(text.trim());
  if (m === null) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (!validCivil(year, month, day) || hour > 23 || minute > 59 || second > 59) return undefined;
  const fraction = BigInt((m[7] ?? '').padEnd(6, '0').slice(0, 6));
  let micros =
    BigInt(daysFromCivil(year, month, day)) * MICROS_PER_DAY +
    BigInt(hour * 3600 + minute * 60 + second) * MICROS_PER_SECOND +
    fraction;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
    micros -= BigInt(sign * minutes * 60) * MICROS_PER_SECOND;
  }
  return micros;
}

/** Microseconds → 'YYYY-MM-DD HH:MM:SS[.f…]' with `precision` fraction digits (truncated), plus `suffix`. */
export function formatTimestamp(micros: bigint, precision: number, suffix = ''): string {
  const days = floorDiv(micros, MICROS_PER_DAY);
  const within = micros - days * MICROS_PER_DAY;
  return `${formatDate(Number(days))} ${formatTime(within, precision)}${suffix}`;
}

/** '[-]H:MM[:SS[.f…]]' → microseconds; undefined when malformed. */
export function parseTime(text: string): bigint | undefined {
  const m = TIME.exec(text.trim());
  if (m === null) {
    const ts = parseTimestamp(text);
    return ts === undefined || !/[ T]/.test(text.trim())
      ? undefined
      : ts - floorDiv(ts, MICROS_PER_DAY) * MICROS_PER_DAY;
  }
  const [hours, minutes, seconds] = [Number(m[2]), Number(m[3]), Number(m[4] ?? 0)];
  if (minutes > 59 || seconds > 59) return undefined;
  const fraction = BigInt((m[5] ?? '').padEnd(6, '0').slice(0, 6));
  const micros = BigInt(hours * 3600 + minutes * 60 + seconds) * MICROS_PER_SECOND + fraction;
  return m[1] === '-' ? -micros : micros;
}

export function formatTime(micros: bigint, precision: number): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const seconds = abs / MICROS_PER_SECOND;
  const fraction = abs % MICROS_PER_SECOND;
  const h = seconds / 3600n;
  const m = (seconds / 60n) % 60n;
  const s = seconds % 60n;
  const frac = precision > 0 ? '.' + fraction.toString().padStart(6, '0').slice(0, Math.min(precision, 6)) : '';
  return `${negative ? '-' : ''}${pad(Number(h), 2)}:${pad(Number(m), 2)}:${pad(Number(s), 2)}${frac}`;
}

export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Drops digits below `precision` (0..6), toward negative infinity, as a sink column of that precision would. */
export function truncateMicros(micros: bigint, precision: number): bigint {
  if (precision >= 6) return micros;
  const unit = 10n ** BigInt(6 - precision);
  return floorDiv(micros, unit) * unit;
}

// ---- time zones ----

const FIXED_ZONE = /^(?:UTC|GMT|Z)?([+-])(\d{1,2})(?::?(\d{2}))?$/i;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Whether `zone` is a time zone this engine can use: an IANA name, `UTC`, or a fixed offset `+08:00`. */
export function isValidTimeZone(zone: string): boolean {
  if (FIXED_ZONE.test(zone) || /^(UTC|GMT|Z)$/i.test(zone)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC, in minutes, at the instant `epochMs`. */
export function zoneOffsetMinutes(zone: string, epochMs: number): number {
  if (/^(UTC|GMT|Z)$/i.test(zone)) return 0;
  const fixed = FIXED_ZONE.exec(zone);
  if (fixed !== null) return (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3] ?? 0));
  let formatter = formatters.get(zone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(zone, formatter);
  }
  const parts: Record<string, string> = {};
  for (const part of formatter.formatToParts(new Date(epochMs))) parts[part.type] = part.value;
  let year = Number(parts.year);
  if (parts.era === 'BC' || parts.era === 'B') year = 1 - year;
  const local =
    daysFromCivil(year, Number(parts.month), Number(parts.day)) * 86_400_000 +
    (Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second)) * 1000;
  const flooredMs = Math.floor(epochMs / 1000) * 1000;
  return Math.round((local - flooredMs) / 60_000);
}

/** An instant (UTC microseconds) → the wall clock of `zone` (microseconds). */
export function instantToLocal(micros: bigint, zone: string): bigint {
  const ms = Number(floorDiv(micros, 1000n));
  return micros + BigInt(zoneOffsetMinutes(zone, ms)) * 60_000_000n;
}

/**
 * A wall clock of `zone` → the instant, as java.time resolves it: in a gap (spring forward) the clock moves
 * later by the gap's length; in an overlap (fall back) the earlier instant wins.
 */
export function localToInstant(local: bigint, zone: string): bigint {
  const localMs = Number(floorDiv(local, 1000n));
  const day = 86_400_000;
  // At most one transition lies within a day of any instant: the offsets a day before and after bound it.
  const before = zoneOffsetMinutes(zone, localMs - day);
  const after = zoneOffsetMinutes(zone, localMs + day);
  const valid = [...new Set([before, after])]
    .map((offset) => local - BigInt(offset) * 60_000_000n)
    .filter((instant) => instantToLocal(instant, zone) === local);
  if (valid.length > 0) return valid.reduce((a, b) => (a < b ? a : b));
  return local - BigInt(before) * 60_000_000n;
}

// ---- java.text.SimpleDateFormat patterns (the format strings of Flink's DATE_FORMAT, TO_TIMESTAMP, …) ----

type PatternPart = { readonly literal: string } | { readonly letter: string; readonly count: number };

const patterns = new Map<string, PatternPart[]>();
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
/** Pattern letters this engine formats and parses. */
export const PATTERN_LETTERS = 'yMdHhmsSaEDk';

/** Splits a SimpleDateFormat pattern; throws a message (string) for letters it does not know. */
export function compilePattern(pattern: string): PatternPart[] {
  const cached = patterns.get(pattern);
  if (cached !== undefined) return cached;
  const parts: PatternPart[] = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern.charAt(i);
    if (c === "'") {
      const close = pattern.indexOf("'", i + 1);
      if (close === i + 1) {
        parts.push({ literal: "'" });
        i += 2;
        continue;
      }
      const end = close < 0 ? pattern.length : close;
      parts.push({ literal: pattern.slice(i + 1, end) });
      i = end + 1;
    } else if (/[A-Za-z]/.test(c)) {
      if (!PATTERN_LETTERS.includes(c))
        throw new Error(`the pattern letter "${c}" is not supported (supported: ${PATTERN_LETTERS})`);
      let count = 1;
      while (pattern.charAt(i + count) === c) count++;
      parts.push({ letter: c, count });
      i += count;
    } else {
      parts.push({ literal: c });
      i++;
    }
  }
  patterns.set(pattern, parts);
  return parts;
}

/** Formats a wall clock (microseconds) with a SimpleDateFormat pattern. */
export function formatPattern(local: bigint, pattern: string): string {
  const days = floorDiv(local, MICROS_PER_DAY);
  const within = local - days * MICROS_PER_DAY;
  const { year, month, day } = civilFromDays(Number(days));
  const seconds = Number(within / MICROS_PER_SECOND);
  const millis = Number((within % MICROS_PER_SECOND) / 1000n);
  return formatFields(
    year,
    month,
    day,
    Math.floor(seconds / 3600),
    Math.floor(seconds / 60) % 60,
    seconds % 60,
    millis,
    pattern,
  );
}

const digit = (text: string, i: number) => text.charCodeAt(i) - 48;
const two = (text: string, i: number) => digit(text, i) * 10 + digit(text, i + 1);

/**
 * Formats canonical wall-clock text (`YYYY-MM-DD[ HH:MM:SS[.f…]]`) with a pattern, reading the fields from
 * the text itself — the fast path of DATE_FORMAT; undefined when the text is not in that form.
 */
export function formatPatternText(text: string, pattern: string): string | undefined {
  if (text.length < 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return undefined;
  const year = two(text, 0) * 100 + two(text, 2);
  const timed = text.length >= 19 && text.charCodeAt(13) === 58 && text.charCodeAt(16) === 58;
  if (!timed && text.length !== 10) return undefined;
  const millis = timed && text.charCodeAt(19) === 46 ? Number(text.slice(20, 23).padEnd(3, '0')) : 0;
  return formatFields(
    year,
    two(text, 5),
    two(text, 8),
    timed ? two(text, 11) : 0,
    timed ? two(text, 14) : 0,
    timed ? two(text, 17) : 0,
    millis,
    pattern,
  );
}

function formatFields(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  millis: number,
  pattern: string,
): string {
  let out = '';
  for (const part of compilePattern(pattern)) {
    if ('literal' in part) {
      out += part.literal;
      continue;
    }
    const { letter, count } = part;
    switch (letter) {
      case 'y':
        out += count === 2 ? pad(year % 100, 2) : pad(year, count);
        break;
      case 'M':
        out += count >= 4 ? MONTH_NAMES[month - 1] : count === 3 ? MONTHS[month - 1] : pad(month, count);
        break;
      case 'd':
        out += pad(day, count);
        break;
      case 'H':
        out += pad(hour, count);
        break;
      case 'k':
        out += pad(hour === 0 ? 24 : hour, count);
        break;
      case 'h':
        out += pad(hour % 12 === 0 ? 12 : hour % 12, count);
        break;
      case 'm':
        out += pad(minute, count);
        break;
      case 's':
        out += pad(second, count);
        break;
      case 'S':
        out += pad(millis, count);
        break;
      case 'a':
        out += hour < 12 ? 'AM' : 'PM';
        break;
      case 'D':
        out += pad(daysFromCivil(year, month, day) - daysFromCivil(year, 1, 1) + 1, count);
        break;
      case 'E': {
        const name = WEEKDAYS[(((daysFromCivil(year, month, day) + 4) % 7) + 7) % 7]!;
        out += count >= 4 ? name : name.slice(0, 3);
        break;
      }
    }
  }
  return out;
}

/** Parses text with a SimpleDateFormat pattern into a wall clock (microseconds); undefined when it does not fit. */
export function parsePattern(text: string, pattern: string): bigint | undefined {
  let pos = 0;
  let [year, month, day, hour, minute, second, millis] = [1970, 1, 1, 0, 0, 0, 0];
  let pm: boolean | undefined;
  const parts = compilePattern(pattern);
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index]!;
    if ('literal' in part) {
      if (!text.startsWith(part.literal, pos)) return undefined;
      pos += part.literal.length;
      continue;
    }
    const { letter, count } = part;
    if (letter === 'a') {
      const word = text.slice(pos, pos + 2).toUpperCase();
      if (word !== 'AM' && word !== 'PM') return undefined;
      pm = word === 'PM';
      pos += 2;
      continue;
    }
    if (letter === 'M' && count >= 3) {
      const names = count >= 4 ? MONTH_NAMES : MONTHS;
      const found = names.findIndex((n) => text.slice(pos, pos + n.length).toLowerCase() === n.toLowerCase());
      if (found < 0) return undefined;
      month = found + 1;
      pos += names[found]!.length;
      continue;
    }
    if (letter === 'E') {
      const match = /^[A-Za-z]+/.exec(text.slice(pos));
      if (match === null) return undefined;
      pos += match[0].length;
      continue;
    }
    // A number field adjacent to the next number field takes exactly `count` digits; otherwise as many as there are.
    const next = parts[index + 1];
    const adjacent = next !== undefined && !('literal' in next);
    const match = (adjacent ? new RegExp(`^\\d{${count}}`) : /^\d+/).exec(text.slice(pos));
    if (match === null) return undefined;
    const n = Number(match[0]);
    pos += match[0].length;
    if (letter === 'y') year = count === 2 && match[0].length === 2 ? 2000 + n : n;
    else if (letter === 'M') month = n;
    else if (letter === 'd') day = n;
    else if (letter === 'H' || letter === 'h' || letter === 'k') hour = letter === 'k' && n === 24 ? 0 : n;
    else if (letter === 'm') minute = n;
    else if (letter === 's') second = n;
    else if (letter === 'S') millis = n;
    else if (letter === 'D') {
      month = 1;
      day = n;
    }
  }
  if (pos !== text.length) return undefined;
  if (pm !== undefined) hour = (hour % 12) + (pm ? 12 : 0);
  if (!validCivil(year, month, day) || hour > 23 || minute > 59 || second > 59) return undefined;
  return (
    BigInt(daysFromCivil(year, month, day)) * MICROS_PER_DAY +
    BigInt(hour * 3600 + minute * 60 + second) * MICROS_PER_SECOND +
    BigInt(millis) * 1000n
  );
}

export { MICROS_PER_DAY, MICROS_PER_SECOND };
