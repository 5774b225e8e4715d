export { ConfigError, formatProblem, type ConfigProblem } from './config-error.js';
export type { ConnectorLookup, ConnectorRole } from './connector-block.js';
export { formatDuration, parseDuration } from '../core/duration.js';
export { interpolateEnv, type Env, type Interpolated } from './env-interpolation.js';
export {
  loadPipelineFile,
  parsePipelineYaml,
  type LoadPipelineOptions,
  type ParsePipelineOptions,
} from './load-pipeline.js';
export * from './pipeline-def.js';
export { pipelineOptionSpecs } from './pipeline-options.js';
export { coerceOption, redactOptions } from './read-options.js';
export * from '../core/table-selector.js';
