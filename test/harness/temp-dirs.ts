import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';

/**
 * A new empty directory for one test's files (state directories, pipeline files), inside the run's temporary
 * root that the integration project's global setup creates and its teardown removes — so a run leaves nothing
 * in the OS temp directory, even when a test fails before its own clean-up. Outside that project (unit tests,
 * no global setup) it falls back to the OS temp directory; remove the directory yourself there.
 */
export async function testTempDir(prefix: string): Promise<string> {
  return await mkdtemp(join(testTempRoot(), `${prefix}-`));
}

/** The run's temporary root (see {@link testTempDir}), or the OS temp directory outside the integration project. */
export function testTempRoot(): string {
  return inject('tempRoot') ?? tmpdir();
}
