import type { Node } from 'yaml';
import type { ConfigReader, Entry } from './config-reader.js';
import { didYouMean } from './did-you-mean.js';
import { checkTableSelector, type TableSelector } from '../core/table-selector.js';

/** The entries of one list item of `transform:` or `route:`, checked against the keys that kind of rule takes. */
export function ruleEntries(
  reader: ConfigReader,
  node: Node | null,
  path: string,
  keys: readonly string[],
  notYet: readonly string[],
  example: string,
): Entry[] {
  const entries = reader.entries(node, path, `a rule (${example})`) ?? [];
  return entries.filter((entry) => {
    if (keys.includes(entry.key)) return true;
    if (notYet.includes(entry.key)) {
      reader.report(entry.keyNode, entry.path, `${entry.key} is not supported yet — remove it`);
      return false;
    }
    const near = didYouMean(entry.key, keys);
    reader.report(
      entry.keyNode,
      entry.path,
      near === undefined ? `unknown key — a rule takes ${keys.join(', ')}` : `unknown key — did you mean "${near}"?`,
    );
    return false;
  });
}

/** A required text field; reports it when missing or empty. */
export function requiredText(
  reader: ConfigReader,
  entries: readonly Entry[],
  key: string,
  at: { node: Node | null; path: string },
  example: string,
): { text: string; entry: Entry } | undefined {
  const entry = entries.find((e) => e.key === key);
  if (entry === undefined) {
    reader.report(at.node, `${at.path}.${key}`, `missing — add \`${key}: ${example}\``);
    return undefined;
  }
  const value = reader.scalar(entry);
  if (value === null) reader.report(entry.keyNode, entry.path, `needs a value — write \`${key}: ${example}\``);
  return value ? { text: value.text, entry } : undefined;
}

/** An optional text field; undefined when absent, empty or wrong (reported). */
export function optionalText(reader: ConfigReader, entries: readonly Entry[], key: string): string | undefined {
  const entry = entries.find((e) => e.key === key);
  return entry === undefined ? undefined : (reader.scalar(entry)?.text ?? undefined);
}

/** A `source-table:` selector; reports every pattern that does not compile. */
export function selectorField(
  reader: ConfigReader,
  entries: readonly Entry[],
  at: { node: Node | null; path: string },
): TableSelector | undefined {
  const field = requiredText(reader, entries, 'source-table', at, 'mydb.orders');
  if (field === undefined) return undefined;
  const result = checkTableSelector(field.text);
  if ('selector' in result) return result.selector;
  for (const problem of result.problems) reader.report(field.entry.value, field.entry.path, problem);
  return undefined;
}

/** A comma-separated list of names (`primary-keys: a, b`); reports empty items. */
export function nameList(reader: ConfigReader, entry: Entry): string[] | undefined {
  const value = reader.scalar(entry);
  if (value === undefined) return undefined;
  const names = (value?.text ?? '').split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) {
    reader.report(
      value?.node ?? entry.keyNode,
      entry.path,
      'has an empty name — write column names separated by commas, e.g. `id` or `_db_name, id`',
    );
    return undefined;
  }
  return names;
}
