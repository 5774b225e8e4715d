export * from './data-type.js';
export * from './table-schema.js';
export * from './change-event.js';
export * from './errors.js';
export * from './source.js';
export * from './sink.js';
export * from './option-spec.js';
export * from './operator.js';
