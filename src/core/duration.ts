import { parseUnitAmount } from './unit-amount.js';

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  milli: 1,
  millis: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/**
 * A duration as Flink writes it — `500ms`, `3s`, `1min`, `1h`, `2d`, or a bare number of milliseconds —
 * in milliseconds; undefined when `text` is not one. Units are case-insensitive; a space before the unit is
 * allowed; the amount is a whole number.
 */
export function parseDuration(text: string): number | undefined {
  return parseUnitAmount(text, UNITS);
}

/** `3000` → `3s`, `60000` → `1min`, `1500` → `1500ms`: the shortest exact form, for messages and docs. */
export function formatDuration(ms: number): string {
  for (const [unit, factor] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= factor && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}
