import type { PipelineDef } from '../config/pipeline-def.js';
import { loadPipelineFile } from '../config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../connectors/registry.js';

/** Reads and validates a pipeline file against the registered connectors' options. */
export function loadPipelineDef(file: string): Promise<PipelineDef> {
  return loadPipelineFile(file, { env: process.env, optionSpecsFor, knownTypes });
}
