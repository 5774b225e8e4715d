import { composePipeline } from '../../src/composer/pipeline-composer.js';
import { parsePipelineYaml } from '../../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../../src/connectors/registry.js';
import { createLogger } from '../../src/runtime/logger.js';
import type { RunningPipeline } from './pipelines.js';
import { testTempDir } from './temp-dirs.js';

export interface PostgresSourcePipelineOptions {
  readonly name: string;
  /** URL of the source database (a superuser's, from freshPostgresDatabase). */
  readonly sourceUrl: string;
  /** `source.tables` */
  readonly tables: string;
  /** The lines inside `sink:`, indented by two spaces. */
  readonly sinkYaml: string;
  readonly sourceYaml?: string;
  readonly stateDir?: string;
  readonly parallelism?: number;
  readonly chunkSize?: number;
}

/** A `type: postgres` source pipeline as a user would write it, run in this process (as startTestPipeline). */
export async function startPostgresSourcePipeline(
  options: PostgresSourcePipelineOptions,
): Promise<RunningPipeline & { stateDir: string }> {
  const url = new URL(options.sourceUrl);
  const stateDir = options.stateDir ?? (await testTempDir('tributary-pgsrc-state'));
  const yaml = `source:
  type: postgres
  hostname: ${url.hostname}
  port: ${url.port}
  username: ${decodeURIComponent(url.username)}
  password: \${TEST_PG_PASSWORD}
  database-name: ${url.pathname.slice(1)}
  tables: ${options.tables}
  scan.incremental.snapshot.chunk.size: ${options.chunkSize ?? 1000}
  heartbeat.interval: 1s
${options.sourceYaml ?? ''}
sink:
${options.sinkYaml}
pipeline:
  name: ${options.name}
  checkpoint.interval: 300ms
  parallelism: ${options.parallelism ?? 2}
  state.dir: ${stateDir}
`;
  const env = { TEST_PG_PASSWORD: decodeURIComponent(url.password) };
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(line) });
  const def = parsePipelineYaml(yaml, { file: `${options.name}.yaml`, env, optionSpecsFor, knownTypes });
  const pipeline = composePipeline(def, { log: logger, maxRetries: 0 });
  const controller = new AbortController();
  const done = pipeline.run({ signal: controller.signal });
  done.catch(() => {});
  return {
    pipeline,
    done,
    logs,
    stateDir,
    stop: async () => {
      controller.abort();
      return await done;
    },
  };
}
