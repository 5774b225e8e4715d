export * from './evolving-transform.js';
export * from './row-mapper.js';
export * from './schema-change-behavior.js';
export * from './schema-change-types.js';
export * from './schema-diff.js';
export * from './schema-evolution-operator.js';
export * from './target-schema.js';
export * from './type-widening.js';
