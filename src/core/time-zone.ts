/**
 * A time zone as Flink CDC's `server-time-zone` and `local-time-zone` take it (Java's `ZoneId.of`): a region
 * name (`Asia/Shanghai`, `UTC`), a fixed offset (`+08:00`, `-0530`, `Z`) or a prefixed offset
 * (`GMT+8`, `UTC-08:00`, `UT+1`). Named zones are resolved with the runtime's IANA data (Intl).
 */
export interface TimeZone {
  /** As written, trimmed. */
  readonly id: string;
  /** The zone's offset from UTC at `instant`, in minutes (positive east of Greenwich). */
  offsetMinutesAt(instant: Date): number;
}

const OFFSET = /^(?:(?:GMT|UTC|UT)(?=[+-]|$))?(?:([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?)?$/i;

/** Parses a zone id; undefined when it is neither a known region nor an offset. */
export function parseTimeZone(text: string): TimeZone | undefined {
  const id = text.trim();
  if (id === '') return undefined;
  if (id === 'Z' || id === 'z') return fixed(id, 0);
  const match = OFFSET.exec(id);
  if (match !== null && /^(?:GMT|UTC|UT)|^[+-]/i.test(id)) {
    const [, sign, hours, minutes, seconds] = match;
    if (sign === undefined) return fixed(id, 0);
    const h = Number(hours);
    const m = Number(minutes ?? 0);
    if (h > 18 || m > 59 || Number(seconds ?? 0) > 59) return undefined;
    return fixed(id, (sign === '-' ? -1 : 1) * (h * 60 + m));
  }
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: id,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return undefined;
  }
  return {
    id,
    offsetMinutesAt(instant: Date): number {
      const parts = Object.fromEntries(format.formatToParts(instant).map((p) => [p.type, p.value]));
      const wall = Date.UTC(
        Number(parts['year']),
        Number(parts['month']) - 1,
        Number(parts['day']),
        Number(parts['hour']),
        Number(parts['minute']),
        Number(parts['second']),
      );
      return Math.round((wall - Math.floor(instant.getTime() / 1000) * 1000) / 60_000);
    },
  };
}

/** What is wrong with a zone id, with what to write; undefined when it parses. */
export function timeZoneProblem(text: string): string | undefined {
  if (parseTimeZone(text) !== undefined) return undefined;
  return `"${text.trim()}" is not a time zone — write a region such as Asia/Shanghai or UTC, or an offset such as +08:00`;
}

/** The zone of this process (`systemDefault`). */
export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** `+08:00`, `-05:30`, `+00:00`. */
export function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function fixed(id: string, minutes: number): TimeZone {
  return { id, offsetMinutesAt: () => minutes };
}
