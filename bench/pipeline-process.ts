/** The parent's side of bench/pipeline-child.ts: one pipeline in a forked Node process. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ChildUsage, RunRequest } from './pipeline-child.js';
import { CLI_NODE_FLAGS } from '../src/cli/heap-growth.js';

export type DoneMessage = Extract<ChildMessage, { type: 'done' }>;

export interface PipelineProcessOptions {
  /** Write a V8 CPU profile of the child into this directory (`node --cpu-prof`). */
  readonly profileDir?: string;
}

/** Numbers the profiles: a restarted pipeline (the catch-up phases) must not overwrite its first process's. */
let profiles = 0;

export class PipelineProcess {
  /** Resolves once the source and the sink are open. */
  readonly started: Promise<void>;
  /** Resolves at the first committed checkpoint. */
  readonly firstCheckpoint: Promise<void>;
  /** Resolves when the pipeline's run() has resolved; rejects when it failed or the process died. */
  readonly done: Promise<DoneMessage>;
  /** Set when the pipeline failed or its process died; checked by the polls. */
  failure: Error | undefined;
  checkpoints = 0;
  /** The changes its checkpoints have committed so far (as their messages arrive). */
  changesCommitted = 0;
  private readonly child: ChildProcess;
  private readonly usageWaiters: ((usage: ChildUsage) => void)[] = [];

  private constructor(request: RunRequest, options: PipelineProcessOptions) {
    const path = fileURLToPath(new URL('./pipeline-child.js', import.meta.url));
    // The young generation bin/tributary.js asks for (see there; it also bounds the heap growth, as the child does).
    const execArgv = [
      ...CLI_NODE_FLAGS,
      // Extra V8 flags for the child, e.g. `--trace-gc` (not for measurements).
      ...(process.env['BENCH_CHILD_NODE_FLAGS']?.split(' ').filter((flag) => flag !== '') ?? []),
      ...(options.profileDir
        ? [
            '--cpu-prof',
            `--cpu-prof-dir=${options.profileDir}`,
            `--cpu-prof-name=${request.name}-${++profiles}.cpuprofile`,
          ]
        : []),
    ];
    this.child = fork(path, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let onStarted: () => void = () => undefined;
    let onCheckpoint: () => void = () => undefined;
    this.started = new Promise((resolve) => (onStarted = resolve));
    this.firstCheckpoint = new Promise((resolve) => (onCheckpoint = resolve));
    this.done = new Promise<DoneMessage>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        this.failure = error;
        reject(error);
      };
      this.child.on('message', (message: ChildMessage) => {
        switch (message.type) {
          case 'started':
            onStarted();
            break;
          case 'checkpoint':
            this.checkpoints++;
            this.changesCommitted += message.events;
            onCheckpoint();
            break;
          case 'usage':
            this.usageWaiters.shift()?.(message);
            break;
          case 'done':
            settled = true;
            resolve(message);
            break;
          case 'failed':
            fail(new Error(`pipeline ${request.name} failed: ${message.message}`));
            break;
        }
      });
      this.child.once('error', fail);
      this.child.once('exit', (code, signal) =>
        fail(new Error(`pipeline process of ${request.name} exited (${signal ?? `code ${code}`}) before its end`)),
      );
    });
    this.done.catch(() => undefined);
    this.child.send(request);
  }

  static start(request: RunRequest, options: PipelineProcessOptions = {}): PipelineProcess {
    return new PipelineProcess(request, options);
  }

  /** The child's CPU seconds since its run began and its peak RSS so far. */
  async usage(): Promise<ChildUsage> {
    if (this.failure) throw this.failure;
    const answer = new Promise<ChildUsage>((resolve) => this.usageWaiters.push(resolve));
    this.child.send({ type: 'usage' });
    return await Promise.race([answer, this.done.then(() => Promise.reject(new Error('the pipeline has ended')))]);
  }

  /** Aborts the pipeline (a final checkpoint) and waits for its end. */
  async stop(): Promise<DoneMessage> {
    if (this.child.connected) this.child.send({ type: 'stop' });
    return await this.done;
  }

  /** Waits up to `ms` for the process to exit by itself (a CPU profile is written at exit), then kills it. */
  async exit(ms = 15_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
  }
}
