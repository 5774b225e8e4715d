/** One command of the CLI as its help shows it. */
interface CommandHelp {
  /** `tributary run <pipeline.yaml> [options]` */
  readonly synopsis: string;
  /** One line for `tributary --help`. */
  readonly summary: string;
  /** What it does, in a few lines. */
  readonly description: string;
  /** `[flag, explanation]` pairs: the options this command takes (besides the global ones). */
  readonly options: readonly (readonly [string, string])[];
}

const GLOBAL_OPTIONS: readonly (readonly [string, string])[] = [
  ['--log-level <level>', 'debug | info | warn | error (default info)'],
  ['--log-format <format>', 'text | json (one JSON object per line, for log shippers; default text)'],
  ['-h, --help', 'this help'],
];

/** The commands and their help; `main.ts` accepts exactly these options for each. */
export const COMMAND_HELP = {
  run: {
    synopsis: 'tributary run <pipeline.yaml> [options]',
    summary: 'run a pipeline until Ctrl-C / SIGTERM (resumes from its last checkpoint)',
    description:
      'Validates, then runs the pipeline until Ctrl-C / SIGTERM: a snapshot, then the binlog. It resumes from the\n' +
      "sink's last checkpoint; a clean stop writes a savepoint. On a terminal it shows live progress bars per\n" +
      'table during the snapshot, then a status line (lag, rates); piped or with --log-format json, a progress\n' +
      'line every 10 s.',
    options: [
      [
        '--reset',
        "forget the saved position (the sink's checkpoint and checkpoint.json) and start\n" +
          'over with a new snapshot; savepoints are set aside in savepoints-before-reset-<time>/.\n' +
          'The sink tables keep their rows (the snapshot upserts over them; rows deleted at\n' +
          'the source meanwhile stay) unless --truncate-targets',
      ],
      ['--truncate-targets', 'with --reset: empty every sink table the pipeline writes to first (needs --yes)'],
      ['--yes', 'confirm --truncate-targets'],
      ['--from-savepoint <id>', 'resume from a savepoint (its id or file; see `tributary state`)'],
      [
        '--http <host:port>',
        'serve the dashboard, /metrics, /healthz, /readyz and /api/status there (default: pipeline\n' +
          'http.host / http.port, 127.0.0.1:8470, the next free port when taken; port 0: any)',
      ],
      ['--no-http', 'no HTTP server'],
      [
        '--role <role>',
        'capture | apply | snapshot-reader: one role of a pipeline with a scale-out: block\n' +
          '(docs/scale-out.md): capture writes the source into the JetStream stream; apply leases\n' +
          'partitions of it and applies them to the sink (start several, on several machines);\n' +
          'snapshot-reader reads snapshot chunks the capture hands out (snapshot.readers: remote).\n' +
          'Default: all in this process, no stream',
      ],
    ],
  },
  validate: {
    synopsis: 'tributary validate <pipeline.yaml> [options]',
    summary: 'check the file, the connections, server settings and privileges; move nothing',
    description:
      'Checks the file, the connections, the server settings and privileges, and that the transforms and routes\n' +
      'fit the tables; moves nothing.',
    options: [],
  },
  state: {
    synopsis: 'tributary state <pipeline.yaml> [options]',
    summary: "show the checkpoint a run resumes from (the sink's) and the savepoints",
    description:
      "Shows the checkpoint `run` would resume from (the sink's; the state directory's copy when the sink cannot\n" +
      'be reached, and it says so) and the savepoints `run --from-savepoint` can resume from.',
    options: [],
  },
  status: {
    synopsis: 'tributary status <pipeline.yaml> [options]',
    summary: 'show a running pipeline (its /api/status), or its saved state when it is not running',
    description:
      'Asks the running pipeline for its state (phase, lag, rows, snapshot progress, checkpoints, schema changes,\n' +
      'errors) over its HTTP server; when none answers, shows the saved checkpoint a run resumes from.',
    options: [
      ['--http <host:port>', "ask there instead of the file's http.host / http.port"],
      ['--json', 'print the status document (JSON)'],
    ],
  },
  verify: {
    synopsis: 'tributary verify <pipeline.yaml> [options]',
    summary: 'compare the sink with the source by chunked checksums; exit 1 on a difference',
    description:
      'Compares every captured source table with its rows in the sink, while the pipeline runs: checksums per\n' +
      'key range computed by both servers, differing chunks checked again after a wait, then down to the keys.\n' +
      'With --repair, makes the differing rows equal to the source and verifies again (a running pipeline\n' +
      're-reads the differing chunks beside its log itself; a stopped one is repaired directly).',
    options: [
      ['--chunk-size <rows>', 'rows per compared chunk (default 10000)'],
      [
        '--recheck-wait <duration>',
        'wait before a differing chunk is checked again (default 2 × checkpoint.interval + 1s)',
      ],
      [
        '--repair',
        'write the differing rows again from the source (upsert; delete rows only in the sink), then\n' +
          'verify again; with the pipeline running, the pipeline re-reads the differing chunks itself',
      ],
    ],
  },
  sql: {
    synopsis: 'tributary sql [-f <script.sql>] [options]',
    summary: 'Flink SQL over change streams: run a script (-f), or the interactive client with live SELECT results',
    description:
      'Runs the statements of a SQL script in order (docs/sql.md). CREATE TABLE declares source (mysql-cdc) and\n' +
      'sink (jdbc, postgres, duckdb) tables, CREATE TEMPORARY VIEW names a query; EXPLAIN, SHOW TABLES and DESCRIBE\n' +
      'print; each INSERT INTO … SELECT (or BEGIN STATEMENT SET … END) runs as a pipeline in the foreground until\n' +
      'Ctrl-C / SIGTERM, resuming from its last checkpoint. Without -f: the interactive client (INSERT starts a\n' +
      'background job; SHOW JOBS, STOP JOB; SELECT shows a live result).',
    options: [
      ['-f, --file <script.sql>', 'the script (also accepted as the first argument); none: the interactive client'],
      ['--reset', "forget the jobs' checkpoints and state, and compute the results anew from the source tables"],
    ],
  },
  compact: {
    synopsis: 'tributary compact <pipeline.yaml> [options]',
    summary: "compact the pipeline's Iceberg tables: merge delete files, expire old snapshots",
    description:
      'For an iceberg sink: rewrites each table the pipeline writes into one data file without delete files (the\n' +
      'rows a reader sees now), keeps the checkpoint, expires old snapshots and removes the files no snapshot\n' +
      'refers to. Run it while the pipeline is stopped (docs/connectors/iceberg.md, "Compaction").',
    options: [
      ['--table <namespace.table>', 'only this table (any table of the warehouse)'],
      ['--retain-snapshots <n>', 'snapshots to keep, the newest (default 1: only the compacted one)'],
    ],
  },
  demo: {
    synopsis: 'tributary demo [options]',
    summary: 'start private MariaDB + PostgreSQL, run the sharded-users pipeline, show it live',
    description:
      'Starts a private MariaDB (and PostgreSQL), runs the sharded-users pipeline and shows the target change\n' +
      'live; stops everything it started when it ends.',
    options: [
      [
        '--source <type>',
        'mysql (default) | postgres: the shards as schemas of a private PostgreSQL, read by logical\n' +
          'replication (its target, with the postgres sink, is another database of the same server)',
      ],
      ['--sink <type>', 'postgres (default) | duckdb: write into a temporary DuckDB file, no PostgreSQL'],
      ['--keep', 'keep running after the demo until Ctrl-C, and print how to reach the servers'],
    ],
  },
} as const satisfies Record<string, CommandHelp>;

export type CommandName = keyof typeof COMMAND_HELP;

export function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMAND_HELP, name);
}

/** `tributary --help`: every command with its options. */
export function globalUsage(): string {
  const lines = ['Usage: tributary <command> [options]', '', 'Commands:'];
  for (const [name, help] of Object.entries(COMMAND_HELP) as [CommandName, CommandHelp][]) {
    lines.push(`  ${name.padEnd(10)} ${help.summary}`);
  }
  lines.push('', 'Options:', ...optionLines([...GLOBAL_OPTIONS, ['-v, --version', 'the version']]));
  lines.push('', 'Run `tributary <command> --help` for the options of one command.');
  return lines.join('\n') + '\n';
}

/** `tributary <command> --help`: that command's synopsis, what it does, and its options. */
export function commandUsage(name: CommandName): string {
  const help: CommandHelp = COMMAND_HELP[name];
  const lines = [`Usage: ${help.synopsis}`, '', help.description, ''];
  if (help.options.length > 0) lines.push('Options:', ...optionLines(help.options), '');
  lines.push('Global options:', ...optionLines(GLOBAL_OPTIONS));
  return lines.join('\n') + '\n';
}

function optionLines(options: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...options.map(([flag]) => flag.length));
  return options.flatMap(([flag, text]) =>
    text.split('\n').map((line, i) => `  ${(i === 0 ? flag : '').padEnd(width)}  ${line}`),
  );
}
