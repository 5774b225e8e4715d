/**
 * `count` and the noun in the number it needs: `plural(1, 'change')` is "1 change", `plural(2, 'change')` "2
 * changes", `plural(0, 'entry', 'entries')` "0 entries". Counts of 10,000 and more get thousands separators,
 * as log lines are read by people.
 */
export function plural(count: number, noun: string, pluralNoun = `${noun}s`): string {
  const shown = Math.abs(count) >= 10_000 ? count.toLocaleString('en-US') : String(count);
  return `${shown} ${count === 1 ? noun : pluralNoun}`;
}
