import { ExpressionError, formatCaret } from '../transform/expression/expression-error.js';
import { parseExpression } from '../transform/expression/parser.js';
import { staticProblems } from '../transform/expression/static-check.js';
import { checkProjection, parseProjection, staticOutputColumns, type Projection } from '../transform/projection.js';
import { parseTableOptions } from '../core/table-layout.js';
import { CONVERTERS_AFTER_TRANSFORM, type ConverterAfterTransform, type Filter } from '../transform/rules.js';
import type { ConfigReader, Entry, ScalarText } from './config-reader.js';
import type { TransformDef } from './pipeline-def.js';
import { nameList, optionalText, ruleEntries, selectorField } from './rule-fields.js';

const KEYS = [
  'source-table',
  'projection',
  'filter',
  'primary-keys',
  'partition-keys',
  'table-options',
  'table-options.delimiter',
  'description',
  'converter-after-transform',
] as const;
/** Flink CDC transform keys that this release does not implement: rejected rather than silently ignored. */
const NOT_YET = [] as const;

/**
 * Reads the `transform:` list. Rules with problems are reported and left out. `userFunctions` (upper-case)
 * are the names declared under `pipeline.user-defined-function`, which expressions may call.
 */
export function readTransforms(
  reader: ConfigReader,
  block: Entry,
  userFunctions: ReadonlySet<string> = new Set(),
): TransformDef[] {
  const items = reader.items(block.value, block.path, '`- source-table: mydb.orders`') ?? [];
  const rules: TransformDef[] = [];
  items.forEach((node, index) => {
    const path = `${block.path}[${index}]`;
    const entries = ruleEntries(reader, node, path, KEYS, NOT_YET, '`source-table: …`, `projection: …`');
    const problemsBefore = reader.problems.length;
    const sourceTable = selectorField(reader, entries, { node, path });
    const projectionEntry = entries.find((e) => e.key === 'projection');
    const projection =
      projectionEntry === undefined ? undefined : readProjection(reader, projectionEntry, userFunctions);
    const keysEntry = entries.find((e) => e.key === 'primary-keys');
    const primaryKeys = keysEntry === undefined ? undefined : nameList(reader, keysEntry);
    const description = optionalText(reader, entries, 'description');
    const layout = readLayout(reader, entries, primaryKeys, outputsOf(projection));
    const filterEntry = entries.find((e) => e.key === 'filter');
    const filter = filterEntry === undefined ? undefined : readFilter(reader, filterEntry, userFunctions);
    const converterEntry = entries.find((e) => e.key === 'converter-after-transform');
    const converter = converterEntry === undefined ? undefined : readConverter(reader, converterEntry);
    const outputs = projection === undefined ? undefined : staticOutputColumns(projection);
    for (const key of primaryKeys ?? []) {
      if (outputs !== undefined && !outputs.includes(key) && keysEntry !== undefined) {
        reader.report(
          keysEntry.value,
          keysEntry.path,
          `"${key}" is not a column of the projection (${outputs.join(', ')}) — add it to the projection or remove it from primary-keys`,
        );
      }
    }
    if (sourceTable === undefined || reader.problems.length > problemsBefore) return;
    rules.push({
      sourceTable,
      ...(projection === undefined ? {} : { projection }),
      ...(filter === undefined ? {} : { filter }),
      ...(converter === undefined ? {} : { converterAfterTransform: converter }),
      ...(primaryKeys === undefined ? {} : { primaryKeys }),
      ...(description === undefined ? {} : { description }),
      ...layout,
    });
  });
  return rules;
}

function outputsOf(projection: Projection | undefined): string[] | undefined {
  return projection === undefined ? undefined : staticOutputColumns(projection);
}

/**
 * `partition-keys` (output columns, which must be in `primary-keys` when that is given) and `table-options`
 * (`key=value` pairs split at `table-options.delimiter`, `,` by default), as Flink CDC writes them.
 */
function readLayout(
  reader: ConfigReader,
  entries: readonly Entry[],
  primaryKeys: readonly string[] | undefined,
  outputs: readonly string[] | undefined,
): { partitionKeys?: readonly string[]; tableOptions?: Readonly<Record<string, string>> } {
  const partitionEntry = entries.find((e) => e.key === 'partition-keys');
  const partitionKeys = partitionEntry === undefined ? undefined : nameList(reader, partitionEntry);
  for (const key of partitionKeys ?? []) {
    if (outputs !== undefined && !outputs.includes(key)) {
      reader.report(
        partitionEntry?.value ?? null,
        partitionEntry?.path ?? '',
        `"${key}" is not a column of the projection (${outputs.join(', ')}) — partition by output columns`,
      );
    } else if (primaryKeys !== undefined && !primaryKeys.includes(key)) {
      reader.report(
        partitionEntry?.value ?? null,
        partitionEntry?.path ?? '',
        `"${key}" is not in primary-keys (${primaryKeys.join(', ')}) — a partitioned table's key includes its partition columns: add it to primary-keys`,
      );
    }
  }
  const optionsEntry = entries.find((e) => e.key === 'table-options');
  const delimiter = optionalText(reader, entries, 'table-options.delimiter') ?? ',';
  let tableOptions: Record<string, string> | undefined;
  const text = optionsEntry === undefined ? undefined : reader.scalar(optionsEntry);
  if (optionsEntry !== undefined && text) {
    const parsed = parseTableOptions(text.text, delimiter);
    if ('problem' in parsed) reader.report(text.node, optionsEntry.path, parsed.problem);
    else tableOptions = parsed.options;
  }
  return {
    ...(partitionKeys === undefined ? {} : { partitionKeys }),
    ...(tableOptions === undefined ? {} : { tableOptions }),
  };
}

/** Where offsets into an expression land in the file, for messages given when the tables are known. */
function locator(reader: ConfigReader, value: ScalarText): (offset: number) => string {
  return (offset) => reader.place(reader.offsetIn(value, offset));
}

function reportAt(
  reader: ConfigReader,
  entry: Entry,
  value: ScalarText,
  offset: number,
  message: string,
  hint?: string,
) {
  const fix = hint === undefined ? '' : ` — ${hint}`;
  reader.report(reader.offsetIn(value, offset), entry.path, `${message}${fix}\n${formatCaret(value.text, offset)}`);
}

/** Parses and checks a projection; syntax errors and unsupported items are reported with a caret. */
function readProjection(
  reader: ConfigReader,
  entry: Entry,
  userFunctions: ReadonlySet<string>,
): Projection | undefined {
  const value = reader.scalar(entry);
  if (value === null)
    reader.report(
      entry.keyNode,
      entry.path,
      'needs a value — write e.g. `projection: \\*, __table_name__ AS _table_name`',
    );
  if (!value) return undefined;
  let projection: Projection;
  try {
    projection = { ...parseProjection(value.text), locate: locator(reader, value) };
  } catch (error) {
    if (!(error instanceof ExpressionError)) throw error;
    reportAt(reader, entry, value, error.offset, error.reason, error.hint);
    return undefined;
  }
  const problems = checkProjection(projection, userFunctions);
  for (const problem of problems) reportAt(reader, entry, value, problem.offset, problem.message, problem.hint);
  return problems.length === 0 ? projection : undefined;
}

/** Parses a filter (a condition); syntax errors and unknown functions are reported with a caret. */
function readFilter(reader: ConfigReader, entry: Entry, userFunctions: ReadonlySet<string>): Filter | undefined {
  const value = reader.scalar(entry);
  if (value === null) reader.report(entry.keyNode, entry.path, 'needs a value — write e.g. `filter: id > 100`');
  if (!value) return undefined;
  try {
    const expression = parseExpression(value.text);
    const problems = staticProblems(expression, userFunctions);
    for (const problem of problems) reportAt(reader, entry, value, problem.offset, problem.message, problem.hint);
    return problems.length === 0 ? { text: value.text, expression, locate: locator(reader, value) } : undefined;
  } catch (error) {
    if (!(error instanceof ExpressionError)) throw error;
    reportAt(reader, entry, value, error.offset, error.reason, error.hint);
    return undefined;
  }
}

function readConverter(reader: ConfigReader, entry: Entry): ConverterAfterTransform | undefined {
  const value = reader.scalar(entry);
  if (!value) return undefined;
  const upper = value.text.trim().toUpperCase();
  if ((CONVERTERS_AFTER_TRANSFORM as readonly string[]).includes(upper)) return upper as ConverterAfterTransform;
  reader.report(
    entry.value,
    entry.path,
    `"${value.text}" is not a converter — the converters are ${CONVERTERS_AFTER_TRANSFORM.join(', ')}`,
  );
  return undefined;
}
