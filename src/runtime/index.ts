export * from './backoff.js';
export * from './logger.js';
export * from './pipeline-runner.js';
export * from './state-store.js';
