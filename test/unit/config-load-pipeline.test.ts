import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigError, formatProblem } from '../../src/config/config-error.js';
import { loadPipelineFile, parsePipelineYaml } from '../../src/config/load-pipeline.js';
import { pipelineOptionSpecs } from '../../src/config/pipeline-options.js';
import type { OptionSpec } from '../../src/core/option-spec.js';
import { TributaryError } from '../../src/core/errors.js';

/** Option declarations shaped like the real connectors', kept here so these tests do not move with them. */
const MYSQL: readonly OptionSpec[] = [
  { key: 'hostname', type: 'string', default: '127.0.0.1', description: '' },
  { key: 'port', type: 'integer', default: 3306, description: '' },
  { key: 'username', type: 'string', required: true, description: '' },
  { key: 'password', type: 'secret', default: '', description: '' },
  { key: 'tables', type: 'table-patterns', required: true, description: '' },
  { key: 'server-id', type: 'string', description: '' },
  {
    key: 'scan.startup.mode',
    type: 'enum',
    values: ['initial', 'snapshot', 'latest-offset'],
    default: 'initial',
    description: '',
  },
  { key: 'scan.incremental.snapshot.chunk.size', type: 'integer', default: 8096, description: '' },
  { key: 'heartbeat.interval', type: 'duration', default: 5000, description: '' },
  { key: 'scan.newly-added-table.enabled', type: 'boolean', default: false, description: '' },
];
const POSTGRES: readonly OptionSpec[] = [
  { key: 'url', type: 'secret', description: '' },
  { key: 'hostname', type: 'string', default: '127.0.0.1', description: '' },
  { key: 'port', type: 'integer', default: 5432, description: '' },
  { key: 'username', type: 'string', default: 'postgres', description: '' },
  { key: 'password', type: 'secret', default: '', description: '' },
  { key: 'database', type: 'string', description: '' },
];

const lookup = {
  optionSpecsFor: (type: string, role: 'source' | 'sink') =>
    role === 'source' ? (type === 'mysql' ? MYSQL : undefined) : type === 'postgres' ? POSTGRES : undefined,
  knownTypes: (role: 'source' | 'sink') => (role === 'source' ? ['mysql'] : ['postgres']),
};

const SECRET = 'hunter2-Sup3r-s3cret';
const env = { MYSQL_PASSWORD: SECRET };

const EXAMPLE = `source:
  type: mysql
  hostname: 127.0.0.1
  port: 3306
  username: cdc
  password: \${MYSQL_PASSWORD}
  tables: user_db[0-9]+.user[0-9]+, tpc_ds.\\.*
  server-id: 5401
  scan.startup.mode: initial
  scan.incremental.snapshot.chunk.size: 8096
sink:
  type: postgres
  hostname: 127.0.0.1
  port: 5432
  username: postgres
  password: ""
  database: warehouse
transform:
  - source-table: user_db[0-9]+.user[0-9]+
    projection: \\*, __schema_name__ AS _db_name, __table_name__ AS _table_name
    primary-keys: _db_name, _table_name, id
    description: optional text
route:
  - source-table: user_db[0-9]+.user[0-9]+
    sink-table: public.users
  - source-table: tpc_ds.\\.*
    sink-table: tpc_ds.<>
    replace-symbol: <>
    description: optional
pipeline:
  name: users-to-warehouse
  checkpoint.interval: 3s
  state.dir: .tributary
  parallelism: 1
`;

function parse(text: string, options: { file?: string; env?: Record<string, string> } = {}) {
  return parsePipelineYaml(text, { file: options.file ?? 'pipeline.yaml', env: options.env ?? env, ...lookup });
}

/** The ConfigError a text produces (fails the test if it parses). */
function problemsOf(text: string, options: { file?: string; env?: Record<string, string> } = {}): ConfigError {
  try {
    parse(text, options);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** The line number (1-based) of the first line of `text` that contains `needle`. */
function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((line) => line.includes(needle)) + 1;
}

describe('parsePipelineYaml: a valid file', () => {
  it('yields the PipelineDef of the Flink CDC example', () => {
    const def = parse(EXAMPLE);
    expect(def.file).toBe('pipeline.yaml');
    expect(def.source).toEqual({
      type: 'mysql',
      options: {
        hostname: '127.0.0.1',
        port: 3306,
        username: 'cdc',
        password: SECRET,
        tables: 'user_db[0-9]+.user[0-9]+, tpc_ds.\\.*',
        'server-id': '5401',
        'scan.startup.mode': 'initial',
        'scan.incremental.snapshot.chunk.size': 8096,
        'heartbeat.interval': 5000,
        'scan.newly-added-table.enabled': false,
      },
    });
    expect(def.sink).toEqual({
      type: 'postgres',
      options: { hostname: '127.0.0.1', port: 5432, username: 'postgres', password: '', database: 'warehouse' },
    });
    expect(def.pipeline).toEqual({
      name: 'users-to-warehouse',
      checkpointIntervalMs: 3000,
      stateDir: '.tributary',
      parallelism: 1,
      maxIdenticalFailures: 8,
      watchdogTimeoutMs: 300_000,
    });

    const [transform] = def.transforms;
    expect(def.transforms).toHaveLength(1);
    expect(transform?.sourceTable.source).toBe('user_db[0-9]+.user[0-9]+');
    expect(transform?.sourceTable.matches('user_db2', 'user02')).toBe(true);
    expect(transform?.primaryKeys).toEqual(['_db_name', '_table_name', 'id']);
    expect(transform?.description).toBe('optional text');
    expect(transform?.projection?.items.map((i) => (i.kind === 'alias' ? `${i.expr.kind}:${i.name}` : i.kind))).toEqual(
      ['star', 'column:_db_name', 'column:_table_name'],
    );

    expect(def.routes.map((r) => [r.sourceTable.source, r.sinkTable, r.replaceSymbol, r.description])).toEqual([
      ['user_db[0-9]+.user[0-9]+', 'public.users', undefined, undefined],
      ['tpc_ds.\\.*', 'tpc_ds.<>', '<>', 'optional'],
    ]);
    expect(def.routes[1]?.sourceTable.matches('tpc_ds', 'item')).toBe(true);
  });

  it('fills the pipeline defaults: name from the file, 3s checkpoints, ./.tributary/<name>, parallelism 1', () => {
    const text = EXAMPLE.slice(0, EXAMPLE.indexOf('pipeline:'));
    const def = parse(text, { file: 'conf/sharded-users.yaml' });
    expect(def.pipeline).toEqual({
      name: 'sharded-users',
      checkpointIntervalMs: 3000,
      stateDir: './.tributary/sharded-users',
      parallelism: 1,
      maxIdenticalFailures: 8,
      watchdogTimeoutMs: 300_000,
    });
    expect(def.transforms).toHaveLength(1);
  });

  it('reads durations as Flink writes them', () => {
    const at = (interval: string) =>
      parse(EXAMPLE.replace('checkpoint.interval: 3s', `checkpoint.interval: ${interval}`)).pipeline
        .checkpointIntervalMs;
    expect(at('500ms')).toBe(500);
    expect(at('1min')).toBe(60_000);
    expect(at('1h')).toBe(3_600_000);
    expect(at('2500')).toBe(2500);
  });

  it('substitutes ${VAR}, ${VAR:-default} and keeps $${ literal', () => {
    const text = EXAMPLE.replace('port: 3306', 'port: ${MYSQL_PORT:-3307}')
      .replace('username: cdc', 'username: ${MYSQL_USER}')
      .replace('server-id: 5401', () => 'server-id: $${not-a-var}');
    const def = parse(text, { env: { ...env, MYSQL_USER: 'replicator' } });
    expect(def.source.options['port']).toBe(3307);
    expect(def.source.options['username']).toBe('replicator');
    expect(def.source.options['server-id']).toBe('${not-a-var}');
  });

  it('takes the schema change behaviour only when written', () => {
    expect(parse(EXAMPLE).pipeline.schemaChangeBehavior).toBeUndefined();
    const def = parse(EXAMPLE.replace('  parallelism: 1', '  parallelism: 1\n  schema.change.behavior: EVOLVE'));
    expect(def.pipeline.schemaChangeBehavior).toBe('evolve');
  });

  it('accepts a file without transform and route blocks', () => {
    const text = EXAMPLE.replace(/transform:[\s\S]*?pipeline:/, 'pipeline:');
    const def = parse(text);
    expect(def.transforms).toEqual([]);
    expect(def.routes).toEqual([]);
  });

  it('exports the pipeline block options for the docs', () => {
    expect(pipelineOptionSpecs().map((s) => s.key)).toEqual([
      'name',
      'local-time-zone',
      'route-mode',
      'execution.runtime-mode',
      'schema.operator.uid',
      'operator.uid.prefix',
      'schema-operator.rpc-timeout',
      'sink.partitioning.strategy',
      'transform.decimal.precision.mode',
      'checkpoint.interval',
      'state.dir',
      'retry.max-identical-failures',
      'parallelism',
      'snapshot.packed-reads',
      'schema.change.behavior',
      'route.key-collision',
      'watchdog.timeout',
      'http.enabled',
      'http.host',
      'http.token',
      'http.port',
    ]);
  });
});

describe('parsePipelineYaml: what a user sees for each mistake', () => {
  it('an unknown key: file:line:column, the key, and the option it probably meant', () => {
    const text = EXAMPLE.replace('scan.startup.mode', 'scan.startup.mod');
    const error = problemsOf(text);
    expect(error).toBeInstanceOf(TributaryError);
    expect(error.code).toBe('CONFIG_INVALID');
    const line = lineOf(text, 'scan.startup.mod');
    expect(error.message).toContain(
      `pipeline.yaml:${line}:3 source.scan.startup.mod: unknown option — did you mean "scan.startup.mode"?`,
    );
    expect(error.problems).toEqual([
      {
        file: 'pipeline.yaml',
        line,
        column: 3,
        path: 'source.scan.startup.mod',
        message: 'unknown option — did you mean "scan.startup.mode"?',
        code: 'CONFIG_INVALID',
      },
    ]);
  });

  it('suggests pipeline keys too, and top-level blocks', () => {
    const text = EXAMPLE.replace('checkpoint.interval: 3s', 'checkpoint-interval: 3s').replace('route:', 'routes:');
    const messages = problemsOf(text).problems.map(formatProblem);
    expect(messages).toContain(
      `pipeline.yaml:${lineOf(text, 'routes:')}:1 routes: unknown block — did you mean "route"?`,
    );
    expect(messages).toContain(
      `pipeline.yaml:${lineOf(text, 'checkpoint-interval')}:3 pipeline.checkpoint-interval: unknown option — did you mean "checkpoint.interval"?`,
    );
  });

  it('a value of the wrong type says what type and what to write', () => {
    const text = EXAMPLE.replace('port: 3306', 'port: abc');
    const [problem] = problemsOf(text).problems;
    expect(problem).toMatchObject({ line: lineOf(text, 'port: abc'), column: 9, path: 'source.port' });
    expect(problem?.message).toBe('expected an integer, got "abc" — write a whole number, e.g. `port: 3306`');
  });

  it('booleans and enums list what is allowed', () => {
    const text = EXAMPLE.replace(
      'scan.startup.mode: initial',
      'scan.startup.mode: latest\n  scan.newly-added-table.enabled: yes',
    );
    const messages = problemsOf(text).problems.map((p) => `${p.path}: ${p.message}`);
    expect(messages).toEqual([
      'source.scan.startup.mode: "latest" is not one of initial, snapshot, latest-offset',
      'source.scan.newly-added-table.enabled: expected true or false, got "yes" — write `scan.newly-added-table.enabled: true` or `scan.newly-added-table.enabled: false`',
    ]);
  });

  it('a regular expression that does not compile: the pattern and the regex error', () => {
    const text = EXAMPLE.replace('tables: user_db[0-9]+.user[0-9]+', 'tables: user_db[0-9+.user[0-9]+');
    const [problem] = problemsOf(text).problems;
    expect(problem).toMatchObject({ line: lineOf(text, 'tables:'), column: 11, path: 'source.tables' });
    expect(problem?.message).toContain('table pattern "user_db[0-9+.user[0-9]+"');
    expect(problem?.message).toMatch(/not a valid regular expression \(Unterminated character class\)/i);
  });

  it('a bad pattern in a transform or route names that rule', () => {
    const text = EXAMPLE.replace('  - source-table: tpc_ds.\\.*', '  - source-table: tpc_ds.(');
    const [problem] = problemsOf(text).problems;
    expect(problem?.path).toBe('route[1].source-table');
    expect(problem?.line).toBe(lineOf(text, 'tpc_ds.('));
    expect(problem?.message).toContain('the table part "(" is not a valid regular expression');
  });

  it('a missing required option: where to add it', () => {
    const text = EXAMPLE.replace('  username: cdc\n', '');
    const [problem] = problemsOf(text).problems;
    expect(formatProblem(problem!)).toBe(
      'pipeline.yaml:1:1 source.username: missing required option — add `username: …` under source:',
    );
  });

  it('a missing ${VAR}: CONFIG_ENV_MISSING naming the variable', () => {
    const error = problemsOf(EXAMPLE, { env: {} });
    expect(error.code).toBe('CONFIG_ENV_MISSING');
    expect(error.problems).toHaveLength(1);
    expect(formatProblem(error.problems[0]!)).toBe(
      `pipeline.yaml:${lineOf(EXAMPLE, 'password: ${')}:13 source.password: environment variable MYSQL_PASSWORD is not set — set it, or write \${MYSQL_PASSWORD:-default} to give a default`,
    );
  });

  it('a duration that does not parse', () => {
    const text = EXAMPLE.replace('checkpoint.interval: 3s', 'checkpoint.interval: 3 secs later');
    const [problem] = problemsOf(text).problems;
    expect(formatProblem(problem!)).toBe(
      `pipeline.yaml:${lineOf(text, 'checkpoint.interval')}:24 pipeline.checkpoint.interval: expected a duration, got "3 secs later" — write e.g. 500ms, 3s, 1min or 1h (a bare number is milliseconds)`,
    );
  });

  it('a duplicate key points at the second and names the line of the first', () => {
    const text = EXAMPLE.replace('  database: warehouse', '  database: warehouse\n  port: 5433');
    const [problem] = problemsOf(text).problems;
    expect(problem).toMatchObject({ path: 'sink.port', line: lineOf(text, 'port: 5433'), column: 3 });
    expect(problem?.message).toBe(
      `duplicate key — "port" is already set at line ${lineOf(text, 'port: 5432')}; keep one of them`,
    );
  });

  it('an unknown connector type lists the known ones', () => {
    const text = EXAMPLE.replace('type: postgres', 'type: postgresql');
    const [problem] = problemsOf(text).problems;
    expect(problem?.path).toBe('sink.type');
    expect(problem?.code).toBe('CONNECTOR_UNKNOWN');
    expect(problem?.message).toBe(
      'unknown sink type "postgresql" — known sink types: postgres; did you mean "postgres"?',
    );
  });

  it('a filter is parsed; an unknown function in it points at its column, with a fix', () => {
    const good = EXAMPLE.replace('    description: optional text', "    filter: id > 10 AND UPPER(name) LIKE 'A%'");
    expect(parse(good).transforms[0]?.filter?.text).toBe("id > 10 AND UPPER(name) LIKE 'A%'");
    const text = EXAMPLE.replace('    description: optional text', '    filter: id > 10 AND UPPR(name) = 1');
    const [problem] = problemsOf(text).problems;
    expect(problem?.path).toBe('transform[0].filter');
    expect(problem?.column).toBe(text.split('\n')[lineOf(text, 'filter:') - 1]!.indexOf('UPPR') + 1);
    expect(problem?.message).toContain('unknown function UPPR — did you mean UPPER?');
  });

  it('converter-after-transform takes SOFT_DELETE', () => {
    const good = EXAMPLE.replace('    description: optional text', '    converter-after-transform: SOFT_DELETE');
    expect(parse(good).transforms[0]?.converterAfterTransform).toBe('SOFT_DELETE');
    const bad = EXAMPLE.replace('    description: optional text', '    converter-after-transform: HARD_DELETE');
    expect(problemsOf(bad).problems[0]?.message).toBe(
      '"HARD_DELETE" is not a converter — the converters are SOFT_DELETE',
    );
  });

  it('a projection syntax error points at the exact column of the file, with a caret', () => {
    const text = EXAMPLE.replace('__table_name__ AS _table_name', '__table_name__ AS');
    const [problem] = problemsOf(text).problems;
    const line = text.split('\n')[lineOf(text, 'projection:') - 1]!;
    expect(problem).toMatchObject({
      path: 'transform[0].projection',
      line: lineOf(text, 'projection:'),
      column: line.length + 1,
    });
    const projection = '\\*, __schema_name__ AS _db_name, __table_name__ AS';
    expect(problem?.message).toBe(
      `expected a name after AS, found the end\n    ${projection}\n    ${' '.repeat(projection.length)}^`,
    );
  });

  it('a projection calling a function with the wrong number of arguments is rejected at the call', () => {
    const ok = EXAMPLE.replace('projection: \\*,', 'projection: \\*, UPPER(name) AS upper_name,');
    expect(parse(ok).transforms[0]?.projection?.items).toHaveLength(4);
    const text = EXAMPLE.replace('projection: \\*,', 'projection: \\*, UPPER(name, 2) AS upper_name,');
    const [problem] = problemsOf(text).problems;
    expect(problem?.column).toBe(text.split('\n')[lineOf(text, 'projection:') - 1]!.indexOf('UPPER') + 1);
    expect(problem?.message).toContain('UPPER does not take 2 arguments — write UPPER(string)');
  });

  it('primary-keys must name projected columns when the projection lists them', () => {
    const text = EXAMPLE.replace('projection: \\*,', 'projection: id,');
    expect(parse(text).transforms[0]?.primaryKeys).toEqual(['_db_name', '_table_name', 'id']);
    const bad = EXAMPLE.replace('projection: \\*,', 'projection: name,');
    expect(problemsOf(bad).problems.map((p) => p.message)).toEqual([
      '"id" is not a column of the projection (name, _db_name, _table_name) — add it to the projection or remove it from primary-keys',
    ]);
  });

  it('a route sink-table must be schema.table, and replace-symbol must occur in it', () => {
    const text = EXAMPLE.replace('sink-table: public.users', 'sink-table: users').replace(
      'sink-table: tpc_ds.<>',
      'sink-table: tpc_ds.item',
    );
    expect(problemsOf(text).problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'route[0].sink-table: "users" is not of the form schema.table — write e.g. public.users',
      'route[1].sink-table: replace-symbol "<>" does not occur in "tpc_ds.item" — write e.g. tpc_ds.<>',
    ]);
  });

  it('nested YAML instead of flat keys says to write dotted keys', () => {
    const text = EXAMPLE.replace('  scan.startup.mode: initial', '  scan:\n    startup.mode: initial');
    const messages = problemsOf(text).problems.map((p) => `${p.path}: ${p.message}`);
    expect(messages).toEqual([
      'source.scan: unknown option — options are flat dotted keys: write `scan.startup.mode: …` instead of nesting under `scan:`',
    ]);
  });

  it('reports every problem at once, one per line, in file order', () => {
    const text = EXAMPLE.replace('port: 3306', 'port: abc')
      .replace('scan.startup.mode', 'scan.startup.mod')
      .replace('checkpoint.interval: 3s', 'checkpoint.interval: soon');
    const error = problemsOf(text, { env: {} });
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.problems.map((p) => p.path)).toEqual([
      'source.port',
      'source.password',
      'source.scan.startup.mod',
      'pipeline.checkpoint.interval',
    ]);
    const lines = error.message.split('\n');
    expect(lines[0]).toBe('pipeline.yaml: 4 problems');
    expect(lines.slice(1).every((l) => l.startsWith('  pipeline.yaml:'))).toBe(true);
  });

  it('YAML syntax errors name the place without quoting the line', () => {
    const text = EXAMPLE.replace('password: ""', `password: "${SECRET}`);
    const error = problemsOf(text);
    expect(error.problems[0]?.message).toMatch(/^YAML syntax: /);
    expect(error.message).not.toContain(SECRET);
  });

  it('an empty file asks for source and sink', () => {
    expect(problemsOf('# nothing yet\n').problems[0]?.message).toContain(
      'needs at least a `source:` and a `sink:` block',
    );
  });

  it('a pipeline name that cannot name a directory is free text, as in Flink CDC: it gets an identifier', () => {
    const def = parsePipelineYaml(EXAMPLE.replace('name: users-to-warehouse', 'name: users/to warehouse'), {
      ...lookup,
      env,
    });
    expect(def.pipeline.displayName).toBe('users/to warehouse');
    expect(def.pipeline.name).toMatch(/^users-to-warehouse-[0-9a-f]{8}$/);
    // Stable: the same text gives the same identifier in every release (checkpoints are keyed by it).
    expect(def.pipeline.name).toBe('users-to-warehouse-a17c3c22');
  });
});

describe('secrets never appear in messages', () => {
  it('not from a secret option, nor from the environment, whatever else is wrong', () => {
    const text = EXAMPLE.replace('port: 3306', 'port: ${MYSQL_PASSWORD}')
      .replace('password: ""', `password: [${SECRET}]`)
      .replace('scan.startup.mode: initial', 'scan.startup.mode: ${MYSQL_PASSWORD}')
      .replace('  username: cdc', `  username: cdc\n  pasword: ${SECRET}`);
    const error = problemsOf(text);
    expect(error.problems.length).toBeGreaterThanOrEqual(4);
    expect(error.message).not.toContain(SECRET);
    expect(error.format()).not.toContain(SECRET);
    expect(JSON.stringify(error.problems)).not.toContain(SECRET);
    expect(error.problems.map((p) => p.message)).toContain(
      'expected an integer, got a value from the environment — write a whole number, e.g. `port: 3306`',
    );
  });
});

describe('loadPipelineFile', () => {
  it('reads a file and names it in messages; its base name is the default pipeline name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-config-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'orders.yaml');
    await writeFile(file, EXAMPLE.replace(/pipeline:[\s\S]*$/, ''));
    const def = await loadPipelineFile(file, { env, ...lookup });
    expect(def.pipeline.name).toBe('orders');
    expect(def.file).toBe(file);

    await writeFile(file, EXAMPLE.replace('port: 3306', 'port: x'));
    const error = await loadPipelineFile(file, { env, ...lookup }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(`${file}:4:9 source.port`);
  });

  it('a missing file is CONFIG_FILE_NOT_FOUND', async () => {
    const error = await loadPipelineFile('/nonexistent/pipeline.yaml', { env, ...lookup }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFIG_FILE_NOT_FOUND' });
  });
});

describe('secrets from files: `password-file` (Docker and Kubernetes secrets)', () => {
  async function secretFile(content: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-secret-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'password');
    await writeFile(path, content);
    return path;
  }

  const yaml = (sourceLine: string) => `source:
  type: mysql
  username: cdc
  ${sourceLine}
  tables: app.orders
sink:
  type: postgres
  database: dw
`;

  it('reads the password from the file, without one trailing newline', async () => {
    const path = await secretFile(`${SECRET}\n`);
    const def = parsePipelineYaml(yaml(`password-file: ${path}`), { file: 'p.yaml', env: {}, ...lookup });
    expect(def.source.options['password']).toBe(SECRET);
    // Only one newline: a password may end with whitespace of its own.
    const spaced = await secretFile(`${SECRET} \n\n`);
    const def2 = parsePipelineYaml(yaml(`password-file: ${spaced}`), { file: 'p.yaml', env: {}, ...lookup });
    expect(def2.source.options['password']).toBe(`${SECRET} \n`);
  });

  it('any secret option takes a -file form (the sink url too)', async () => {
    const path = await secretFile('postgres://u:pw@h/dw\n');
    const text = `${yaml('password: x')}  url-file: ${path}\n`;
    const def = parsePipelineYaml(text, { file: 'p.yaml', env: {}, ...lookup });
    expect(def.sink.options['url']).toBe('postgres://u:pw@h/dw');
  });

  it('a missing file and both forms at once are errors naming the path, never a secret', async () => {
    const problems = (text: string): string => {
      try {
        parsePipelineYaml(text, { file: 'p.yaml', env: {}, ...lookup });
      } catch (error) {
        if (error instanceof ConfigError) return error.message;
        throw error;
      }
      throw new Error('no error');
    };
    expect(problems(yaml('password-file: /nonexistent/secret'))).toMatch(
      /source\.password-file.*cannot read the secret file "\/nonexistent\/secret" \(ENOENT\)/,
    );
    const path = await secretFile(SECRET);
    const both = problems(yaml(`password: other\n  password-file: ${path}`));
    expect(both).toContain('either `password` or `password-file`');
    expect(both).not.toContain(SECRET);
  });
});
