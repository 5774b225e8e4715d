/**
 * A whole amount with an optional unit — `500ms`, `3 s`, `64mb` — as `amount × units[unit]`; a bare number is
 * taken as is. Units are case-insensitive and may follow a space; undefined when `text` is none of these or the
 * result is not a safe integer. The shared reader of durations and memory sizes as Flink writes them.
 */
export function parseUnitAmount(text: string, units: Readonly<Record<string, number>>): number | undefined {
  const match = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(text);
  if (match === null) return undefined;
  const [, amount = '', unit = ''] = match;
  const factor = unit === '' ? 1 : units[unit.toLowerCase()];
  if (factor === undefined) return undefined;
  const value = Number(amount) * factor;
  return Number.isSafeInteger(value) ? value : undefined;
}
