/**
 * Declares one option of a connector or of the pipeline. Validation, "did you mean" suggestions and the
 * connector reference in docs/ are all derived from these declarations.
 */
export interface OptionSpec {
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
}

/** Option values after validation: durations in milliseconds, patterns as source text, secrets as strings. */
export type OptionValues = { readonly [key: string]: string | number | boolean | undefined };
