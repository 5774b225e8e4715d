import { describe, expect, it } from 'vitest';
import { parsePipelineYaml } from '../../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../../src/connectors/registry.js';
import { TributaryError } from '../../src/core/errors.js';
import { acceptedSchemaChanges } from '../../src/transform/schema-evolution/schema-change-types.js';

function parse(sinkLines: string, pipelineLines = '') {
  const yaml = `source:
  type: mysql
  hostname: localhost
  username: u
  password: p
  tables: app.orders
sink:
  type: postgres
  url: postgres://u@localhost/warehouse
${sinkLines}
pipeline:
  name: orders
${pipelineLines}`;
  return parsePipelineYaml(yaml, { file: 'orders.yaml', env: {}, optionSpecsFor, knownTypes });
}

describe('sink include.schema.changes / exclude.schema.changes', () => {
  it('are accepted by every sink, as a YAML list or as comma-separated text', () => {
    const def = parse('  include.schema.changes: [column, create.table]\n  exclude.schema.changes: drop, alter');
    expect(def.sink.options['include.schema.changes']).toBe('column, create.table');
    expect(def.sink.options['exclude.schema.changes']).toBe('drop, alter');
    const accepted = acceptedSchemaChanges(
      String(def.sink.options['include.schema.changes']),
      String(def.sink.options['exclude.schema.changes']),
    );
    expect([...accepted].sort()).toEqual(['add.column', 'create.table', 'rename.column']);
  });

  it('reject a name that is not a schema change type, listing the valid ones', () => {
    let error: unknown;
    try {
      parse('  exclude.schema.changes: [drop.colum]');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TributaryError);
    expect((error as TributaryError).message).toMatch(/exclude\.schema\.changes.*add\.column/s);
  });

  it('leave pipeline.schema.change.behavior unset unless written (the stage then uses lenient)', () => {
    expect(parse('').pipeline.schemaChangeBehavior).toBeUndefined();
    expect(parse('', '  schema.change.behavior: try_evolve\n').pipeline.schemaChangeBehavior).toBe('try_evolve');
  });
});
