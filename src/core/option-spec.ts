/**
 * Declares one option of a connector or of the pipeline. Validation, "did you mean" suggestions and the
 * connector reference in docs/ are all derived from these declarations.
 */
export interface OptionSpec {
  /**
   * The key as written in the file. A key ending in `.*` (`jdbc.properties.*`, `debezium.*`) declares a family:
   * every key with that prefix is accepted, each stored under its own full key.
   */
  readonly key: string;
  readonly type: 'string' | 'secret' | 'integer' | 'boolean' | 'duration' | 'enum' | 'table-patterns';
  readonly required?: boolean;
  readonly default?: string | number | boolean;
  /** For `integer`: the smallest allowed value. */
  readonly min?: number;
  /** For `string`: a pattern the value must match, and how to describe it. */
  readonly pattern?: { readonly regex: RegExp; readonly description: string };
  /** For `enum`: the allowed values. */
  readonly values?: readonly string[];
  readonly description: string;
  /**
   * Set for an option of Flink CDC that is accepted so that its pipeline files load unchanged, but has no
   * effect here: why (for the one warning `validate` and `run` print, and for the docs' "accepted for
   * compatibility" lists). Its value is type-checked and not stored.
   */
  readonly ignored?: string;
  /** For `string`: a check of the value beyond `pattern`; returns what is wrong and what to write, or undefined. */
  readonly check?: (value: string) => string | undefined;
}

/** Whether `key` is `spec`'s key, or belongs to the family a `prefix.*` spec declares. */
export function optionKeyMatches(spec: OptionSpec, key: string): boolean {
  return spec.key.endsWith('.*')
    ? key.startsWith(spec.key.slice(0, -1)) && key.length > spec.key.length - 1
    : spec.key === key;
}

/** An option written in a pipeline file that is accepted and has no effect here (see {@link OptionSpec.ignored}). */
export interface IgnoredOption {
  /** `source`, `sink`, `pipeline`. */
  readonly block: string;
  /** The spec's key (`debezium.*` for the family). */
  readonly key: string;
  /** The keys as written (one, or the members of a family). */
  readonly written: readonly string[];
  readonly reason: string;
}

/** Option values after validation: durations in milliseconds, patterns as source text, secrets as strings. */
export type OptionValues = { readonly [key: string]: string | number | boolean | undefined };
