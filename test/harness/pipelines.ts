import { composePipeline, type Pipeline } from '../../src/composer/pipeline-composer.js';
import { parsePipelineYaml } from '../../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../../src/connectors/registry.js';
import { createLogger, type Logger } from '../../src/runtime/logger.js';
import type { RunResult } from '../../src/runtime/pipeline-runner.js';
import { mysqlUrl } from './databases.js';
import { testTempDir } from './temp-dirs.js';

export interface TestPipelineOptions {
  readonly name: string;
  /** The `source.tables` patterns. */
  readonly tables: string;
  /** PostgreSQL URL of the sink database (required unless `sinkYaml` replaces the postgres sink). */
  readonly sinkUrl?: string;
  /** The lines inside `sink:` (indented by the caller with two spaces), replacing the postgres sink. */
  readonly sinkYaml?: string;
  /** Extra YAML appended at top level (transform:, route: blocks). */
  readonly extraYaml?: string;
  /** Extra lines inside `source:` (indented by the caller with two spaces). */
  readonly sourceYaml?: string;
  readonly chunkSize?: number;
  readonly stateDir?: string;
  readonly checkpointInterval?: string;
  readonly mode?: 'initial' | 'snapshot' | 'latest-offset';
  /** `pipeline.parallelism`: snapshot chunk readers. */
  readonly parallelism?: number;
  /** Extra lines inside `pipeline:` (indented by the caller with two spaces). */
  readonly pipelineYaml?: string;
}

/** The pipeline YAML a user would write for the test servers; credentials come from the environment. */
export async function testPipelineYaml(
  options: TestPipelineOptions,
): Promise<{ yaml: string; env: Record<string, string>; stateDir: string }> {
  const mysql = new URL(mysqlUrl());
  const stateDir = options.stateDir ?? (await testTempDir('tributary-test-state'));
  const yaml = `source:
  type: mysql
  hostname: ${mysql.hostname}
  port: ${mysql.port}
  username: ${decodeURIComponent(mysql.username)}
  password: \${TEST_MYSQL_PASSWORD}
  tables: ${options.tables}
  scan.startup.mode: ${options.mode ?? 'initial'}
  scan.incremental.snapshot.chunk.size: ${options.chunkSize ?? 1000}
${options.sourceYaml ?? ''}
sink:
${options.sinkYaml ?? '  type: postgres\n  url: ${TEST_SINK_URL}'}
${options.extraYaml ?? ''}
pipeline:
  name: ${options.name}
  checkpoint.interval: ${options.checkpointInterval ?? '500ms'}
  parallelism: ${options.parallelism ?? 1}
  state.dir: ${stateDir}
${options.pipelineYaml ?? ''}
`;
  const env = { TEST_MYSQL_PASSWORD: decodeURIComponent(mysql.password), TEST_SINK_URL: options.sinkUrl ?? '' };
  return { yaml, env, stateDir };
}

export interface RunningPipeline {
  readonly pipeline: Pipeline;
  readonly done: Promise<RunResult>;
  readonly logs: string[];
  stop(): Promise<RunResult>;
}

/** Builds the pipeline from YAML exactly as the CLI does and runs it in this process. */
export async function startTestPipeline(options: TestPipelineOptions, log?: Logger): Promise<RunningPipeline> {
  const { yaml, env } = await testPipelineYaml(options);
  const logs: string[] = [];
  const logger = log ?? createLogger({ level: 'debug', write: (line) => logs.push(line) });
  const def = parsePipelineYaml(yaml, { file: `${options.name}.yaml`, env, optionSpecsFor, knownTypes });
  const pipeline = composePipeline(def, { log: logger, maxRetries: 0 });
  const controller = new AbortController();
  const done = pipeline.run({ signal: controller.signal });
  done.catch(() => {});
  return {
    pipeline,
    done,
    logs,
    stop: async () => {
      controller.abort();
      return await done;
    },
  };
}
