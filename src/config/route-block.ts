import { highestCaptureReference, sinkTableProblem } from '../transform/route.js';
import { captureGroupCount } from '../core/table-selector.js';
import type { ConfigReader, Entry } from './config-reader.js';
import type { RouteDef } from './pipeline-def.js';
import { optionalText, requiredText, ruleEntries, selectorField } from './rule-fields.js';

const KEYS = ['source-table', 'sink-table', 'replace-symbol', 'description'] as const;

/** Reads the `route:` list. Routes with problems are reported and left out. */
export function readRoutes(reader: ConfigReader, block: Entry): RouteDef[] {
  const items =
    reader.items(block.value, block.path, '`- source-table: mydb.orders` with `sink-table: public.orders`') ?? [];
  const routes: RouteDef[] = [];
  items.forEach((node, index) => {
    const path = `${block.path}[${index}]`;
    const entries = ruleEntries(reader, node, path, KEYS, [], '`source-table: …`, `sink-table: …`');
    const problemsBefore = reader.problems.length;
    const sourceTable = selectorField(reader, entries, { node, path });
    const sinkTable = requiredText(reader, entries, 'sink-table', { node, path }, 'public.orders');
    const replaceSymbol = optionalText(reader, entries, 'replace-symbol');
    const description = optionalText(reader, entries, 'description');
    if (sinkTable !== undefined) {
      const problem = sinkTableProblem(sinkTable.text, replaceSymbol);
      if (problem !== undefined) reader.report(sinkTable.entry.value, sinkTable.entry.path, problem);
      const highest = highestCaptureReference(sinkTable.text);
      if (problem === undefined && replaceSymbol === undefined && sourceTable !== undefined && highest > 0) {
        const groups = captureGroupCount(sourceTable);
        if (highest > groups) {
          reader.report(
            sinkTable.entry.value,
            sinkTable.entry.path,
            `"${sinkTable.text}" refers to $${highest}, but source-table "${sourceTable.source}" has ${groups === 0 ? 'no capturing group' : `${groups} capturing group(s)`} — put the parts to keep in parentheses, e.g. db_(\\d+).tbl_(\\d+) for sink_db_$1.sink_table_$2`,
          );
        }
      }
    }
    if (sourceTable === undefined || sinkTable === undefined || reader.problems.length > problemsBefore) return;
    routes.push({
      sourceTable,
      sinkTable: sinkTable.text.trim(),
      ...(replaceSymbol === undefined ? {} : { replaceSymbol }),
      ...(description === undefined ? {} : { description }),
    });
  });
  return routes;
}
