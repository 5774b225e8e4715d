import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { TributaryError } from '../core/errors.js';
import { ConfigError } from './config-error.js';
import { ConfigReader, type Entry } from './config-reader.js';
import { readConnector, type ConnectorLookup } from './connector-block.js';
import { didYouMean } from './did-you-mean.js';
import type { Env } from './env-interpolation.js';
import type { PipelineDef, PipelineOptions, RouteDef, TransformDef } from './pipeline-def.js';
import { pipelineOptions, pipelineOptionSpecs } from './pipeline-options.js';
import { readOptions } from './read-options.js';
import { readRoutes } from './route-block.js';
import { readScaleOut } from './scale-out-block.js';
import { readTransforms } from './transform-block.js';
import { readUserFunctions, USER_DEFINED_FUNCTION_KEY } from './udf-block.js';

export interface LoadPipelineOptions extends ConnectorLookup {
  /** What `${VAR}` reads; process.env when absent. */
  readonly env?: Env;
}

export interface ParsePipelineOptions extends LoadPipelineOptions {
  /** Named in every message and the default pipeline name; `<inline>` when absent. */
  readonly file?: string;
}

const TOP_LEVEL = ['source', 'sink', 'transform', 'route', 'pipeline', 'scale-out'] as const;

/**
 * Reads and validates a pipeline file. Throws TributaryError CONFIG_FILE_NOT_FOUND when it cannot be read,
 * and a {@link ConfigError} listing every problem in the file otherwise.
 */
export async function loadPipelineFile(path: string, options: LoadPipelineOptions): Promise<PipelineDef> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TributaryError(
      'CONFIG_FILE_NOT_FOUND',
      code === 'ENOENT'
        ? `pipeline file ${path} does not exist`
        : `pipeline file ${path} cannot be read (${code ?? 'error'})`,
      { hint: 'check the path (it is relative to the working directory) and the file permissions', cause: error },
    );
  }
  return parsePipelineYaml(text, { ...options, file: path });
}

/**
 * Validates pipeline YAML (Flink CDC 3 pipeline format) into a PipelineDef, before anything connects.
 * Every problem is collected, then all are thrown together in one {@link ConfigError}: unknown keys (with a
 * suggestion), values of the wrong type, patterns that do not compile, missing options, unset `${VAR}`s,
 * duplicate keys, projections beyond what this release evaluates. Secret values never appear in messages.
 */
export function parsePipelineYaml(text: string, options: ParsePipelineOptions): PipelineDef {
  const file = options.file ?? '<inline>';
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, schema: 'failsafe', uniqueKeys: false, prettyErrors: false });
  const reader = new ConfigReader(file, text, doc, lines, options.env ?? process.env);
  if (doc.errors.length > 0) {
    // The library's own message quotes the offending line, which may hold a secret: keep only its first clause.
    for (const error of doc.errors) {
      const reason = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+.*$/, '');
      reader.report(error.pos[0], '', `YAML syntax: ${reason}`);
    }
    throw new ConfigError(reader.problems);
  }
  if (doc.contents === null) {
    reader.report(0, '', 'the file is empty — a pipeline needs at least a `source:` and a `sink:` block');
    throw new ConfigError(reader.problems);
  }
  const entries = reader.entries(doc.contents, '', 'the blocks source:, sink:, transform:, route:, pipeline:') ?? [];
  const blocks = new Map<string, Entry>();
  for (const entry of entries) {
    if ((TOP_LEVEL as readonly string[]).includes(entry.key)) {
      blocks.set(entry.key, entry);
    } else {
      const near = didYouMean(entry.key, TOP_LEVEL);
      reader.report(
        entry.keyNode,
        entry.key,
        near === undefined
          ? `unknown block — the blocks are ${TOP_LEVEL.join(', ')}`
          : `unknown block — did you mean "${near}"?`,
      );
    }
  }

  const source = readConnector(reader, blocks.get('source'), 'source', options);
  const sink = readConnector(reader, blocks.get('sink'), 'sink', options);
  const transformBlock = blocks.get('transform');
  const pipelineBlock = blocks.get('pipeline');
  const pipelineEntries =
    pipelineBlock === undefined
      ? []
      : (reader.entries(pipelineBlock.value, 'pipeline', 'the pipeline options (`name: …`)') ?? []);
  const udfEntry = pipelineEntries.find((e) => e.key === USER_DEFINED_FUNCTION_KEY);
  const userDefinedFunctions = udfEntry === undefined ? [] : readUserFunctions(reader, udfEntry);
  const udfNames = new Set(userDefinedFunctions.map((f) => f.name.toUpperCase()));
  const transforms: TransformDef[] =
    transformBlock === undefined ? [] : readTransforms(reader, transformBlock, udfNames);
  const routeBlock = blocks.get('route');
  const routes: RouteDef[] = routeBlock === undefined ? [] : readRoutes(reader, routeBlock);
  const scaleOutBlock = blocks.get('scale-out');
  const scaleOut = scaleOutBlock === undefined ? undefined : readScaleOut(reader, scaleOutBlock, options);
  const pipeline = readPipelineBlock(
    reader,
    pipelineBlock,
    pipelineEntries.filter((e) => e.key !== USER_DEFINED_FUNCTION_KEY),
    defaultName(options.file),
  );

  if (reader.problems.length > 0 || source === undefined || sink === undefined) {
    throw new ConfigError([...reader.problems].sort((a, b) => a.line - b.line || a.column - b.column));
  }
  return {
    source,
    sink,
    transforms,
    routes,
    pipeline,
    ...(reader.ignored.length === 0 ? {} : { ignoredOptions: reader.ignored }),
    ...(userDefinedFunctions.length === 0 ? {} : { userDefinedFunctions }),
    ...(scaleOut === undefined ? {} : { scaleOut }),
    ...(options.file === undefined ? {} : { file: options.file }),
  };
}

function readPipelineBlock(
  reader: ConfigReader,
  block: Entry | undefined,
  entries: readonly Entry[],
  name: string,
): PipelineOptions {
  const values = readOptions(reader, entries, pipelineOptionSpecs(), {
    path: 'pipeline',
    at: block?.keyNode ?? null,
    owner: 'the pipeline',
  });
  const result = pipelineOptions(values, name);
  for (const problem of result.problems) {
    const entry = entries.find((e) => e.key === problem.key);
    reader.report(entry?.value ?? entry?.keyNode ?? block?.keyNode ?? 0, `pipeline.${problem.key}`, problem.message);
  }
  return result.options;
}

/** `pipelines/users.yaml` → `users`. */
function defaultName(file: string | undefined): string {
  if (file === undefined) return 'pipeline';
  const base = basename(file);
  const ext = extname(base);
  return ext === '.yaml' || ext === '.yml' ? base.slice(0, -ext.length) : base;
}
