import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  composePipeline,
  knownTypes,
  optionSpecsFor,
  parsePipelineYaml,
  registerConnector,
  silentLogger,
  TributaryError,
} from '../../src/index.js';
import { collected, collectSink, sequenceSource } from '../harness/sequence-connectors.js';

/**
 * Issue 13: a connector from outside the repository, declared with `defineConnector` and added with
 * `registerConnector` from the package entry, is named by a pipeline file like a built-in one: the loader checks
 * its options against its specs, `open` gets them typed with the specs' defaults, and rows flow through the
 * transforms into the sink.
 */
describe('registerConnector (a connector from outside src/)', () => {
  let stateDir: string;

  beforeAll(async () => {
    registerConnector(sequenceSource);
    registerConnector(collectSink);
    stateDir = await mkdtemp(join(tmpdir(), 'tributary-registration-'));
  });
  afterAll(() => rm(stateDir, { recursive: true, force: true }));

  const load = (source: string, sink: string, extra = '') =>
    parsePipelineYaml(
      `source:\n${source}\nsink:\n${sink}\n${extra}pipeline:\n  name: p\n  state.dir: ${join(stateDir, String(Math.random()))}\n`,
      { file: 'p.yaml', env: {}, optionSpecsFor, knownTypes },
    );

  it('runs a pipeline from the registered source through a transform into the registered sink', async () => {
    const def = load(
      '  type: sequence\n  table: app.items\n  rows: 5\n  label: x',
      '  type: collect\n  bucket: first',
      'transform:\n  - source-table: app.items\n    projection: \\*, id * 10 AS tenfold\n' +
        'route:\n  - source-table: app.items\n    sink-table: warehouse.items\n',
    );
    const pipeline = composePipeline(def, { log: silentLogger });
    await pipeline.validate();
    await pipeline.run({ signal: AbortSignal.timeout(30_000) });
    const rows = [...collected.get('first')!.rows].sort(([a], [b]) => a.localeCompare(b));
    expect(rows).toEqual([1, 2, 3, 4, 5].map((i) => [`warehouse.items/${i}`, [BigInt(i), 'x', BigInt(i * 10)]]));
    expect(collected.get('first')!.checkpoint?.position).toEqual({ emitted: 5 });
  });

  it("fills in the options' defaults, declared once in the specs", async () => {
    const pipeline = composePipeline(load('  type: sequence', '  type: collect\n  bucket: defaults'), {
      log: silentLogger,
    });
    await pipeline.run({ signal: AbortSignal.timeout(30_000) });
    expect([...collected.get('defaults')!.rows.keys()].sort()).toEqual([
      'demo.numbers/1',
      'demo.numbers/2',
      'demo.numbers/3',
    ]);
  });

  it('checks the options against the specs when the file is loaded', () => {
    expect(() => load('  type: sequence\n  row: 5', '  type: collect\n  bucket: x')).toThrow(/did you mean "rows"/);
    expect(() => load('  type: sequence', '  type: collect')).toThrow(/missing required option/);
  });

  it('refuses a second connector of a type that is taken', () => {
    let error: unknown;
    try {
      registerConnector({ ...collectSink, type: 'postgres' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TributaryError);
    expect((error as TributaryError).code).toBe('CONNECTOR_DUPLICATE');
  });
});
