import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TributaryError, type Checkpoint } from '../../src/core/index.js';
import { StateStore } from '../../src/runtime/state-store.js';
import { manyTablesCheckpoint } from '../harness/sink-events.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function store(): Promise<StateStore> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-state-store-'));
  dirs.push(dir);
  return new StateStore(dir);
}
const checkpoint = (id: number): Checkpoint => ({
  pipeline: 'p',
  id,
  position: { file: 'mysql-bin.000001', pos: 4 + id },
  committedAt: new Date(0).toISOString(),
});
const failure = (promise: Promise<unknown>): Promise<TributaryError> =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as TributaryError,
  );

describe('the state store (issue 10)', () => {
  it.runIf(existsSync('/proc/self'))(
    'fails at once with STATE_DIR_UNWRITABLE for a state.dir under /proc',
    async () => {
      const error = await failure(new StateStore('/proc/tributary-state/pipeline').ensureWritable());
      expect(error).toBeInstanceOf(TributaryError);
      expect(error.code).toBe('STATE_DIR_UNWRITABLE');
      expect(error.message).toContain('/proc/tributary-state');
    },
  );

  it('names a missing savepoint SAVEPOINT_NOT_FOUND and lists the savepoints there are', async () => {
    const s = await store();
    await s.saveSavepoint(checkpoint(3));
    await s.saveSavepoint(checkpoint(7));
    const error = await failure(s.loadSavepoint('999'));
    expect(error.code).toBe('SAVEPOINT_NOT_FOUND');
    expect(error.hint).toMatch(/are: 3, 7/);
    const none = await failure((await store()).loadSavepoint('1'));
    expect(none.code).toBe('SAVEPOINT_NOT_FOUND');
    expect(none.hint).toMatch(/no savepoints/);
  });

  it("says truthfully what deleting a corrupt checkpoint.json does: the next run resumes from the sink's checkpoint", async () => {
    const s = await store();
    await writeFile(join(s.dir, 'checkpoint.json'), '{ not json');
    const error = await failure(s.load());
    expect(error.code).toBe('STATE_CORRUPT');
    expect(error.hint).toMatch(/resumes from the checkpoint the sink keeps/);
    expect(error.hint).not.toMatch(/full re-snapshot/);
    expect(error.hint).toMatch(/--reset/);
  });

  it('sets the savepoints aside on reset, so that the list holds only those taken after it', async () => {
    const s = await store();
    await s.saveSavepoint(checkpoint(2));
    const archive = await s.archiveSavepoints(new Date('2026-01-02T03:04:05.678Z'));
    expect(archive).toBe(join(s.dir, 'savepoints-before-reset-2026-01-02T03-04-05-678Z'));
    expect(await s.listSavepoints()).toEqual([]);
    expect(await readdir(archive!)).toEqual(['savepoint-00000002.json']);
    await s.saveSavepoint(checkpoint(1));
    expect((await s.listSavepoints()).map((sp) => sp.checkpoint.id)).toEqual([1]);
    expect(await s.archiveSavepoints()).toBeDefined();
    expect(await (await store()).archiveSavepoints()).toBeUndefined();
  });

  it('keeps the bulk of a checkpoint of many tables in chunk files, written once, and deletes those no checkpoint lists', async () => {
    const s = await store();
    const first = manyTablesCheckpoint('p', { tablesDone: 0 });
    await s.save(first);
    const head = JSON.parse(await readFile(join(s.dir, 'checkpoint.json'), 'utf8')) as { bulk: string[] };
    expect(head.bulk.length).toBeGreaterThan(3);
    expect((await readFile(join(s.dir, 'checkpoint.json'))).length).toBeLessThan(8192);
    expect(await s.load()).toEqual(first);

    const chunksBefore = new Set(await readdir(join(s.dir, 'chunks')));
    const next = manyTablesCheckpoint('p', { tablesDone: 300, comment: 'changed' });
    await s.save(next);
    const chunksAfter = await readdir(join(s.dir, 'chunks'));
    // Only the chunks of the next checkpoint are left, most of them those of the first.
    expect(chunksAfter.sort()).toEqual(
      [...new Set((JSON.parse(await readFile(join(s.dir, 'checkpoint.json'), 'utf8')) as { bulk: string[] }).bulk)]
        .map((id) => `${id}.json`)
        .sort(),
    );
    expect(chunksAfter.filter((name) => !chunksBefore.has(name)).length).toBeLessThan(chunksAfter.length / 4);
    expect(await new StateStore(s.dir).load()).toEqual(next);

    await s.clear();
    expect(await s.load()).toBeNull();
  });

  it('reads a checkpoint.json of an earlier release, everything in one file', async () => {
    const s = await store();
    const old = manyTablesCheckpoint('p', { tablesDone: 3 });
    await writeFile(join(s.dir, 'checkpoint.json'), JSON.stringify(old, null, 2));
    expect(await s.load()).toEqual(old);
  });

  it('reports a missing chunk file as STATE_CORRUPT with the fix', async () => {
    const s = await store();
    await s.save(manyTablesCheckpoint('p', { tablesDone: 0 }));
    const [chunk] = await readdir(join(s.dir, 'chunks'));
    await rm(join(s.dir, 'chunks', chunk!));
    const error = await failure(s.load());
    expect(error.code).toBe('STATE_CORRUPT');
    expect(error.message).toMatch(/missing/);
    expect(error.hint).toMatch(/resumes from the checkpoint the sink keeps/);
  });
});
