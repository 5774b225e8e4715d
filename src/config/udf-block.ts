import type { UserFunctionDef } from '../transform/expression/user-function.js';
import type { ConfigReader, Entry } from './config-reader.js';
import { requiredText, ruleEntries } from './rule-fields.js';

/** The pipeline option that declares user-defined functions (Flink CDC's name). */
export const USER_DEFINED_FUNCTION_KEY = 'user-defined-function';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Reads `pipeline.user-defined-function`: a list of `{name, classpath}`, where classpath is a JavaScript ES
 * module (a path relative to the pipeline file, or a package name) exporting `eval`. Only the declaration is
 * checked here; the modules are imported when the pipeline is composed (UDF_LOAD_FAILED).
 */
export function readUserFunctions(reader: ConfigReader, entry: Entry): UserFunctionDef[] {
  const items =
    reader.items(entry.value, entry.path, '`- name: format_price` with `classpath: ./udf/format-price.mjs`') ?? [];
  const defs: UserFunctionDef[] = [];
  items.forEach((node, index) => {
    const path = `${entry.path}[${index}]`;
    const entries = ruleEntries(reader, node, path, ['name', 'classpath'], [], '`name: …`, `classpath: …`');
    const name = requiredText(reader, entries, 'name', { node, path }, 'format_price');
    const classpath = requiredText(reader, entries, 'classpath', { node, path }, './udf/format-price.mjs');
    if (name !== undefined && !NAME.test(name.text)) {
      reader.report(
        name.entry.value,
        name.entry.path,
        `"${name.text}" is not a function name — use letters, digits and _`,
      );
      return;
    }
    if (name !== undefined && defs.some((d) => d.name.toUpperCase() === name.text.toUpperCase())) {
      reader.report(name.entry.value, name.entry.path, `the function ${name.text} is declared twice — keep one`);
      return;
    }
    if (name !== undefined && classpath !== undefined) defs.push({ name: name.text, classpath: classpath.text });
  });
  return defs;
}
