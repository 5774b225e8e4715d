/**
 * Tributary as a library: build a pipeline in code with the same objects that the YAML produces.
 *
 * ```ts
 * const def = await loadPipelineFile('pipeline.yaml', { env: process.env, optionSpecsFor, knownTypes });
 * const pipeline = composePipeline(def, { log: createLogger() });
 * await pipeline.validate();
 * await pipeline.run({ signal });
 * ```
 */
export * from './core/index.js';
export { loadPipelineFile, parsePipelineYaml } from './config/load-pipeline.js';
export type { PipelineDef, ConnectorDef, TransformDef, RouteDef, PipelineOptions } from './config/pipeline-def.js';
export { parseTableSelectors, type TableSelector } from './core/table-selector.js';
export { TransformOperator } from './transform/transform-operator.js';
export {
  composePipeline,
  type Pipeline,
  type ComposeOptions,
  type RunPipelineOptions,
} from './composer/pipeline-composer.js';
export type { ValidateOptions, ValidationReport } from './composer/pipeline-validation.js';
export { knownTypes, optionSpecsFor, registerConnector, sources, sinks } from './connectors/registry.js';
export { runPipeline, type PipelineParts, type RunOptions, type RunResult } from './runtime/pipeline-runner.js';
export { createLogger, silentLogger, type Logger, type LogLevel } from './runtime/logger.js';
export { StateStore } from './runtime/state-store.js';
export { PipelineMetrics, type PipelineStatus } from './runtime/pipeline-metrics.js';
