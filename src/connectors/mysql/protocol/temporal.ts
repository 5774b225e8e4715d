/**
 * DATE, TIME, DATETIME, TIMESTAMP and their fractional-second "2" forms as they appear in binlog rows, decoded
 * straight into the canonical text forms of core/data-type.ts:
 * date 'YYYY-MM-DD'; time '[-]HH:MM:SS[.f…]'; timestamp 'YYYY-MM-DD HH:MM:SS[.f…]' (+ 'Z' for instants).
 * Fractions have exactly `fsp` digits. Zero dates and dates with a zero month or day decode to null
 * (they have no calendar meaning and no PostgreSQL counterpart).
 */

const TWO_DIGITS: readonly string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));
const MICROS = '000000';

function pad2(n: number): string {
  return n < 100 ? TWO_DIGITS[n]! : String(n);
}

function pad4(n: number): string {
  if (n >= 1000) return String(n);
  const s = String(n);
  return '0000'.slice(s.length) + s;
}

/** '.ffffff' cut to `fsp` digits ('' when fsp is 0). `micros` is 0..999999. */
export function formatFraction(micros: number, fsp: number): string {
  if (fsp === 0) return '';
  const s = String(micros);
  return `.${(MICROS.slice(s.length) + s).slice(0, fsp)}`;
}

export function formatDate(year: number, month: number, day: number): string {
  return `${pad4(year)}-${pad2(month)}-${pad2(day)}`;
}

/**
 * Reused character-code arrays, one per text length up to 27 ('YYYY-MM-DD HH:MM:SS.ffffff' and a one-character
 * suffix), for {@link formatDateTime}.
 */
const DATETIME_CODES: number[][] = Array.from({ length: 28 }, (_, n) => new Array<number>(n).fill(0));

export function formatDateTime(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  micros: number,
  fsp: number,
  suffix: string,
): string {
  // Every DATETIME and TIMESTAMP of a binlog row comes through here: the template made about a dozen
  // intermediate strings per value, this fills the character codes of the one string it returns. Values
  // outside the fixed-width form (none a valid row holds) take the template.
  if (
    !(year >= 0 && year <= 9999) ||
    !(month >= 0 && month < 100 && day >= 0 && day < 100) ||
    !(hour >= 0 && hour < 100 && minute >= 0 && minute < 100 && second >= 0 && second < 100) ||
    !(micros >= 0 && micros <= 999_999 && fsp >= 0 && fsp <= 6 && suffix.length <= 1)
  ) {
    return `${pad4(year)}-${pad2(month)}-${pad2(day)} ${pad2(hour)}:${pad2(minute)}:${pad2(second)}${formatFraction(micros, fsp)}${suffix}`;
  }
  const c = DATETIME_CODES[19 + (fsp === 0 ? 0 : fsp + 1) + suffix.length]!;
  c[0] = ZERO + Math.floor(year / 1000);
  c[1] = ZERO + (Math.floor(year / 100) % 10);
  c[2] = ZERO + (Math.floor(year / 10) % 10);
  c[3] = ZERO + (year % 10);
  c[4] = 0x2d; // -
  twoDigits(c, 5, month);
  c[7] = 0x2d;
  twoDigits(c, 8, day);
  c[10] = 0x20; // space
  twoDigits(c, 11, hour);
  c[13] = 0x3a; // :
  twoDigits(c, 14, minute);
  c[16] = 0x3a;
  twoDigits(c, 17, second);
  let p = 19;
  if (fsp > 0) {
    c[p++] = 0x2e; // .
    for (let i = 0, unit = 100_000; i < fsp; i++, unit /= 10) c[p++] = ZERO + (Math.floor(micros / unit) % 10);
  }
  if (suffix.length === 1) c[p] = suffix.charCodeAt(0);
  return String.fromCharCode.apply(null, c);
}

const ZERO = 0x30;

function twoDigits(codes: number[], at: number, n: number): void {
  codes[at] = ZERO + Math.floor(n / 10);
  codes[at + 1] = ZERO + (n % 10);
}

export function formatTime(
  negative: boolean,
  hour: number,
  minute: number,
  second: number,
  micros: number,
  fsp: number,
): string {
  return `${negative ? '-' : ''}${pad2(hour)}:${pad2(minute)}:${pad2(second)}${formatFraction(micros, fsp)}`;
}

/** Bytes of the fractional part of TIME2/DATETIME2/TIMESTAMP2 with `fsp` digits. */
export function fractionBytes(fsp: number): number {
  return (fsp + 1) >> 1;
}

/** Reads the fractional part (unsigned) of a DATETIME2/TIMESTAMP2 as microseconds. */
function readFraction(buf: Uint8Array, pos: number, fsp: number): number {
  switch (fsp) {
    case 0:
      return 0;
    case 1:
    case 2:
      return buf[pos]! * 10000;
    case 3:
    case 4:
      return ((buf[pos]! << 8) | buf[pos + 1]!) * 100;
    default:
      return (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
  }
}

/**
 * MYSQL_TYPE_DATE / NEWDATE: 3 bytes little-endian, day 5 bits, month 4 bits, year above. `keepZero`: a zero
 * or partial-zero date comes out as its text ('2024-00-10') instead of null; so for the functions below.
 */
export function decodeDate(buf: Uint8Array, pos: number, keepZero = false): string | null {
  const v = buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16);
  const day = v & 31;
  const month = (v >> 5) & 15;
  if ((day === 0 || month === 0) && !keepZero) return null;
  return formatDate(v >> 9, month, day);
}

/**
 * MYSQL_TYPE_TIME2: a 3-byte big-endian integer offset by 0x800000 (sign, 10 bits hour, 6 minute, 6 second)
 * and a fraction of `fsp` digits; negative values store the fraction complemented.
 */
export function decodeTime2(buf: Uint8Array, pos: number, fsp: number): string {
  let packed: number; // intpart * 2^24 + microseconds, signed
  if (fsp >= 5) {
    packed =
      (buf[pos]! * 0x10000 + buf[pos + 1]! * 0x100 + buf[pos + 2]!) * 0x1000000 +
      (buf[pos + 3]! * 0x10000 + buf[pos + 4]! * 0x100 + buf[pos + 5]!) -
      0x800000000000;
  } else {
    let intPart = ((buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!) - 0x800000;
    let micros = 0;
    if (fsp >= 3) {
      let frac = (buf[pos + 3]! << 8) | buf[pos + 4]!;
      if (intPart < 0 && frac !== 0) {
        intPart++;
        frac -= 0x10000;
      }
      micros = frac * 100;
    } else if (fsp >= 1) {
      let frac = buf[pos + 3]!;
      if (intPart < 0 && frac !== 0) {
        intPart++;
        frac -= 0x100;
      }
      micros = frac * 10000;
    }
    packed = intPart * 0x1000000 + micros;
  }
  const negative = packed < 0;
  if (negative) packed = -packed;
  const hms = Math.floor(packed / 0x1000000);
  const micros = packed % 0x1000000;
  return formatTime(negative, (hms >> 12) & 0x3ff, (hms >> 6) & 0x3f, hms & 0x3f, micros, fsp);
}

/** MYSQL_TYPE_TIME (old format): 3-byte little-endian signed integer HHMMSS. */
export function decodeTimeOld(buf: Uint8Array, pos: number): string {
  let v = ((buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16)) << 8) >> 8;
  const negative = v < 0;
  if (negative) v = -v;
  return formatTime(negative, Math.floor(v / 10000), Math.floor(v / 100) % 100, v % 100, 0, 0);
}

/**
 * MYSQL_TYPE_DATETIME2: 5 bytes big-endian offset by 2^39: year*13+month (17 bits), day (5), hour (5),
 * minute (6), second (6); then the fraction.
 */
export function decodeDatetime2(
  buf: Uint8Array,
  pos: number,
  fsp: number,
  suffix: string,
  keepZero = false,
): string | null {
  const intPart =
    buf[pos]! * 0x100000000 +
    (((buf[pos + 1]! << 24) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 8) | buf[pos + 4]!) >>> 0) -
    0x8000000000;
  const ymd = Math.floor(intPart / 0x20000);
  const hms = intPart % 0x20000;
  const day = ymd & 31;
  const yearMonth = ymd >> 5;
  const month = yearMonth % 13;
  if ((day === 0 || month === 0) && !keepZero) return null;
  return formatDateTime(
    Math.floor(yearMonth / 13),
    month,
    day,
    hms >> 12,
    (hms >> 6) & 63,
    hms & 63,
    readFraction(buf, pos + 5, fsp),
    fsp,
    suffix,
  );
}

/** MYSQL_TYPE_DATETIME (old format): 8-byte little-endian integer YYYYMMDDhhmmss. */
export function decodeDatetimeOld(buf: Uint8Array, pos: number, suffix: string, keepZero = false): string | null {
  const lo = (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
  const hi = (buf[pos + 4]! | (buf[pos + 5]! << 8) | (buf[pos + 6]! << 16) | (buf[pos + 7]! << 24)) >>> 0;
  const v = hi * 0x100000000 + lo;
  const date = Math.floor(v / 1000000);
  const time = v % 1000000;
  const day = date % 100;
  const month = Math.floor(date / 100) % 100;
  if ((day === 0 || month === 0) && !keepZero) return null;
  return formatDateTime(
    Math.floor(date / 10000),
    month,
    day,
    Math.floor(time / 10000),
    Math.floor(time / 100) % 100,
    time % 100,
    0,
    0,
    suffix,
  );
}

/** MYSQL_TYPE_TIMESTAMP2: 4-byte big-endian seconds since the epoch, then the fraction; 0 is the zero value. */
export function decodeTimestamp2(
  buf: Uint8Array,
  pos: number,
  fsp: number,
  suffix: string,
  keepZero = false,
): string | null {
  const seconds = ((buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!) >>> 0;
  if (seconds === 0) return keepZero ? formatDateTime(0, 0, 0, 0, 0, 0, 0, fsp, '') : null;
  return formatEpochSeconds(seconds, readFraction(buf, pos + 4, fsp), fsp, suffix);
}

/** MYSQL_TYPE_TIMESTAMP (old format): 4-byte little-endian seconds since the epoch. */
export function decodeTimestampOld(buf: Uint8Array, pos: number, suffix: string, keepZero = false): string | null {
  const seconds = (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
  if (seconds === 0) return keepZero ? formatDateTime(0, 0, 0, 0, 0, 0, 0, 0, '') : null;
  return formatEpochSeconds(seconds, 0, 0, suffix);
}

/** UTC calendar form of seconds since 1970-01-01 (days-to-civil arithmetic; no Date objects). */
export function formatEpochSeconds(seconds: number, micros: number, fsp: number, suffix: string): string {
  const days = Math.floor(seconds / 86400);
  const secOfDay = seconds - days * 86400;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(secOfDay / 3600);
  const minute = Math.floor(secOfDay / 60) % 60;
  return formatDateTime(year, month, day, hour, minute, secOfDay % 60, micros, fsp, suffix);
}

/**
 * The packed 64-bit temporal form used inside MySQL binary JSON (and `my_time_packed`): for datetimes
 * `((year*13+month) << 22 | day << 17 | hour << 12 | minute << 6 | second) << 24 | micros`, negated for negative
 * values; times use only the hour/minute/second part.
 */
export function formatPackedTemporal(packed: bigint, kind: 'date' | 'time' | 'datetime'): string {
  const negative = packed < 0n;
  const v = negative ? -packed : packed;
  const micros = Number(v & 0xffffffn);
  const intPart = Number(v >> 24n);
  if (kind === 'time') {
    const hms = intPart;
    return formatTime(negative, Math.floor(hms / 4096) % 1024, (hms >> 6) & 63, hms & 63, micros, 6);
  }
  const ymd = Math.floor(intPart / 0x20000);
  const hms = intPart % 0x20000;
  const yearMonth = Math.floor(ymd / 32);
  const year = Math.floor(yearMonth / 13);
  const month = yearMonth % 13;
  const day = ymd % 32;
  if (kind === 'date') return formatDate(year, month, day);
  return formatDateTime(year, month, day, hms >> 12, (hms >> 6) & 63, hms & 63, micros, 6, '');
}
