import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Why terminal tests cannot run here (tmux missing), or undefined when they can. */
export const tmuxMissing = await run('tmux', ['-V']).then(
  () => undefined,
  () => 'tmux is not installed (Debian package tmux)',
);

/** A private tmux server (its own socket): real terminals for tests, driven by send-keys and read by capture-pane. */
export interface Tmux {
  (...args: string[]): Promise<string>;
  /** The visible screen of a session. */
  pane(session: string): Promise<string>;
}

export function privateTmux(socket: string): Tmux {
  const tmux = async (...args: string[]): Promise<string> => {
    const env: NodeJS.ProcessEnv = { ...process.env, LANG: 'C.UTF-8' };
    delete env['TMUX'];
    return (await run('tmux', ['-u', '-L', socket, ...args], { env })).stdout;
  };
  return Object.assign(tmux, { pane: (session: string) => tmux('capture-pane', '-p', '-t', session) });
}
