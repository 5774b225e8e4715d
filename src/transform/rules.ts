import type { Projection } from './projection.js';

/**
 * What the transform stage needs from the pipeline definition. The config loader's `TransformDef`,
 * `RouteDef` and `TableSelector` extend these, so a PipelineDef can be handed over as it is, and a library
 * user can build rules in code without YAML.
 */
export interface TableMatcher {
  /** The selector as written, for messages. */
  readonly source: string;
  /** Whether the table `namespace.name` (MySQL: `database.table`) is selected. */
  matches(namespace: string, name: string): boolean;
  /**
   * The capturing groups of the first pattern that selects the table, numbered as in the pattern as written
   * (the database part's first, then the table part's), for a route's `$1`, `$2`; undefined when none selects
   * it. A group that took part in no match is ''.
   */
  captures?(namespace: string, name: string): readonly string[] | undefined;
}

/** Reshapes the tables it selects. Without a projection all columns pass; without primaryKeys the source's key holds. */
export interface TransformRule {
  readonly sourceTable: TableMatcher;
  readonly projection?: Projection;
  readonly primaryKeys?: readonly string[];
  /** Not evaluated yet: the operator refuses a rule that has one rather than pass rows it should drop. */
  readonly filter?: string;
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
}
