/**
 * Canonical date/time text (docs/01-events.md, "Values") ↔ counts since the epoch, in exact integer arithmetic
 * (bigint), for years 0001–9999 — `Date` would misread years below 100 and round to milliseconds.
 */
import { civilFromDays as civil, daysFromCivil } from '../core/civil-calendar.js';

export { daysFromCivil };

/** The date `days` after 1970-01-01 as 'YYYY-MM-DD'. */
export function civilFromDays(days: number): string {
  const { year, month, day } = civil(days);
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/;
const TIME = /^(-)?(\d+):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/** 'YYYY-MM-DD' → days since the epoch. */
export function dateToDays(text: string): number {
  const m = DATE.exec(text);
  if (!m) throw new RangeError(`not a date: ${text}`);
  return daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
}

/**
 * 'YYYY-MM-DD HH:MM:SS[.f][Z|±hh:mm]' (or with 'T') → microseconds since the epoch; an offset is applied, so
 * the result is the instant in UTC. Digits beyond microseconds must be zero.
 */
export function dateTimeToMicros(text: string): bigint {
  const m = DATE_TIME.exec(text);
  if (!m) throw new RangeError(`not a date and time: ${text}`);
  const days = daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
  const seconds = days * 86400 + Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]);
  let micros = BigInt(seconds) * 1_000_000n + fractionMicros(m[7], text);
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1n : 1n;
    const offset = BigInt(Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(4, 6)) * 60) * 1_000_000n;
    micros -= sign * offset;
  }
  return micros;
}

/** '[-]H+:MM:SS[.f]' → microseconds (a duration). */
export function timeToMicros(text: string): bigint {
  const m = TIME.exec(text);
  if (!m) throw new RangeError(`not a time: ${text}`);
  const micros =
    BigInt(Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4])) * 1_000_000n + fractionMicros(m[5], text);
  return m[1] ? -micros : micros;
}

/** Microseconds since the epoch → 'YYYY-MM-DD HH:MM:SS' with `precision` fraction digits (the rest must be 0). */
export function microsToDateTime(micros: bigint, precision: number): string {
  const perDay = 86_400_000_000n;
  let days = micros / perDay;
  let rest = micros % perDay;
  if (rest < 0n) {
    rest += perDay;
    days -= 1n;
  }
  return `${civilFromDays(Number(days))} ${clock(rest, precision)}`;
}

/** Microseconds → '[-]HH:MM:SS' with `precision` fraction digits; hours may exceed 24. */
export function microsToTime(micros: bigint, precision: number): string {
  const negative = micros < 0n;
  return (negative ? '-' : '') + clock(negative ? -micros : micros, precision);
}

function clock(micros: bigint, precision: number): string {
  const seconds = micros / 1_000_000n;
  const fraction = micros % 1_000_000n;
  const h = seconds / 3600n;
  const mi = (seconds / 60n) % 60n;
  const s = seconds % 60n;
  const digits = fraction.toString().padStart(6, '0');
  if (precision < 6 && /[^0]/.test(digits.slice(precision))) {
    throw new RangeError(`a fraction of ${digits} µs does not fit ${precision} digits`);
  }
  const text = `${h.toString().padStart(2, '0')}:${mi.toString().padStart(2, '0')}:${s.toString().padStart(2, '0')}`;
  return precision > 0 ? `${text}.${digits.slice(0, precision)}` : text;
}

function fractionMicros(digits: string | undefined, text: string): bigint {
  if (digits === undefined) return 0n;
  if (digits.length > 6 && /[^0]/.test(digits.slice(6))) throw new RangeError(`finer than microseconds: ${text}`);
  return BigInt(digits.slice(0, 6).padEnd(6, '0'));
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
