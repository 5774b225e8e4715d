import type { ExpressionNode } from './expression/expression-node.js';
import type { UserFunction } from './expression/user-function.js';
import type { Projection } from './projection.js';
import type { TableMatcher } from '../core/table-selector.js';

/**
 * What the transform stage needs from the pipeline definition. The config loader's `TransformDef`,
 * `RouteDef` and `TableSelector` extend these, so a PipelineDef can be handed over as it is, and a library
 * user can build rules in code without YAML. (`TableMatcher` is core's, re-exported for the transform's users.)
 */
export type { TableMatcher } from '../core/table-selector.js';

/**
 * A parsed `filter:` — a condition on the source row (it may also name the projection's computed columns).
 * `locate`, when set, turns an offset into the text into a place in the pipeline file (`file:line:column`).
 */
export interface Filter {
  readonly text: string;
  readonly expression: ExpressionNode;
  readonly locate?: (offset: number) => string;
}

/**
 * Flink CDC's `converter-after-transform`: `SOFT_DELETE` turns a delete into an insert of the deleted row
 * (whose `__data_event_type__` is `-D`), so the sink keeps the row, marked deleted.
 */
export type ConverterAfterTransform = 'SOFT_DELETE';
export const CONVERTERS_AFTER_TRANSFORM: readonly ConverterAfterTransform[] = ['SOFT_DELETE'];

/** Reshapes the tables it selects. Without a projection all columns pass; without primaryKeys the source's key holds. */
export interface TransformRule {
  readonly sourceTable: TableMatcher;
  readonly projection?: Projection;
  readonly primaryKeys?: readonly string[];
  /** Rows for which the condition is not TRUE are left out (see TransformOperator for updates). */
  readonly filter?: Filter;
  readonly converterAfterTransform?: ConverterAfterTransform;
}

/**
 * Sends the tables it selects to `sinkTable` (`namespace.name`). With `replaceSymbol`, each occurrence of
 * the symbol in `sinkTable` is replaced by the source table's name (`tpc_ds.<>` → `tpc_ds.item`).
 */
export interface RouteRule {
  readonly sourceTable: TableMatcher;
  readonly sinkTable: string;
  readonly replaceSymbol?: string;
}

/** The rules of one pipeline, in the order written: the first matching rule of each kind wins. */
export interface TransformRules {
  readonly transforms: readonly TransformRule[];
  readonly routes: readonly RouteRule[];
  /** The session time zone of expressions (Flink's `pipeline.local-time-zone`); the system's when absent. */
  readonly timeZone?: string;
  /** User-defined functions by upper-case name (loaded by `loadUserFunctions`). */
  readonly functions?: ReadonlyMap<string, UserFunction>;
}

/** The system time zone: Flink's default for `local-time-zone`. */
export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}
