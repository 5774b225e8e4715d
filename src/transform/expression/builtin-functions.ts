import { CONDITIONAL_FUNCTIONS } from './conditional-functions.js';
import type { FunctionDef } from './function-kit.js';
import { NUMERIC_FUNCTIONS } from './numeric-functions.js';
import { STRING_FUNCTIONS } from './string-functions.js';
import { TEMPORAL_FUNCTIONS } from './temporal-functions.js';

export { asText, type FunctionDef, type FunctionEnv } from './function-kit.js';

/**
 * Flink CDC's transform functions (see docs/pipeline-file.md#functions), by upper-case name, in the order the
 * docs list them.
 */
export const BUILTIN_FUNCTIONS: ReadonlyMap<string, FunctionDef> = new Map<string, FunctionDef>([
  ...NUMERIC_FUNCTIONS,
  ...STRING_FUNCTIONS,
  ...TEMPORAL_FUNCTIONS,
  ...CONDITIONAL_FUNCTIONS,
]);
