import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const BIN = new URL('../../bin/tributary.js', import.meta.url).pathname;

/** A `tributary` CLI process, as a user runs it; output is collected for assertions. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>;
}

export function startCli(args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
    // Spawning failed (or killing a process that is gone): report it as the exit, never as an unhandled event.
    child.on('error', (error: NodeJS.ErrnoException) => {
      output += `\n[harness] ${error.message}\n`;
      if (child.exitCode === null && child.pid === undefined) resolve(error.code ?? 'spawn error');
    });
  });
  return { child, output: () => output, exited };
}

/** Writes a pipeline file into `dir` and returns its path. */
export async function writePipelineFile(dir: string, yaml: string): Promise<string> {
  const file = join(dir, 'pipeline.yaml');
  await writeFile(file, yaml);
  return file;
}
