import { parseUnitAmount } from './unit-amount.js';

const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  byte: 1,
  bytes: 1,
  k: 1024,
  kb: 1024,
  kibibytes: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mebibytes: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gibibytes: 1024 ** 3,
};

/**
 * A memory size as Flink writes it (its `MemorySize`) — `64mb`, `512 kb`, `1g`, or a bare number of bytes —
 * in bytes; undefined when `text` is not one. Units are powers of 1024 and case-insensitive; a space before the
 * unit is allowed; the amount is a whole number.
 */
export function parseMemorySize(text: string): number | undefined {
  return parseUnitAmount(text, UNITS);
}
