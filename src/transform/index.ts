export * from './expression/expression-node.js';
export { ExpressionError, formatCaret } from './expression/expression-error.js';
export { parseExpression } from './expression/parser.js';
export * from './metadata-columns.js';
export * from './projection.js';
export * from './route.js';
export type * from './rules.js';
export * from './table-plan.js';
export * from './transform-operator.js';
