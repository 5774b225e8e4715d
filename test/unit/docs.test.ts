import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/duration.js';
import { pipelineOptionSpecs } from '../../src/config/pipeline-options.js';
import { scaleOutOwnOptions } from '../../src/config/scale-out-block.js';
import { sinks, sources } from '../../src/connectors/registry.js';
import { ERROR_CODES } from '../../src/core/errors.js';
import type { OptionSpec } from '../../src/core/option-spec.js';
import { PipelineMetrics } from '../../src/runtime/pipeline-metrics.js';
import { BUILTIN_FUNCTIONS } from '../../src/transform/expression/builtin-functions.js';
import { prometheusRegistry } from '../../src/ui/prometheus-exporter.js';

/**
 * The documentation cannot drift silently from the code: docs/errors.md documents exactly the codes of
 * ERROR_CODES with their retryable default, and every option a connector or the pipeline block declares has a
 * row in its page's option table (and no row documents an option that does not exist).
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** The text under `## heading` up to the next `## ` heading. */
function section(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === `## ${heading}`);
  if (start < 0) throw new Error(`no "## ${heading}" heading`);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((line) => line.startsWith('## '));
  return (end < 0 ? rest : rest.slice(0, end)).join('\n');
}

/** Rows of the markdown tables in `text` whose first cell is a code span: key → the other cells, trimmed. */
function optionRows(text: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^\|\s*`([^`]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (match === null) continue;
    const [, key = '', rest = ''] = match;
    rows.set(
      key,
      rest.split(/(?<!\\)\|/).map((cell) => cell.trim()),
    );
  }
  return rows;
}

/** What the default cell must show: "required", or the default as written (durations also in short form). */
function defaultForms(spec: OptionSpec): string[] {
  if (spec.required) return ['required'];
  if (spec.default === undefined) return [];
  const text = String(spec.default);
  const forms = [`\`${text === '' ? "''" : text}\``];
  if (spec.type === 'duration') {
    const ms = parseDuration(text);
    if (ms !== undefined) forms.push(`\`${formatDuration(ms)}\``);
  }
  return forms;
}

function checkOptionTable(page: string, heading: string, all: readonly OptionSpec[]): void {
  // Options accepted for Flink CDC compatibility and ignored are listed apart (see below), not here.
  const specs = all.filter((s) => s.ignored === undefined);
  const rows = optionRows(section(read(page), heading));
  const declared = specs.map((s) => s.key);
  const documented = [...rows.keys()];
  expect(
    declared.filter((k) => !rows.has(k)),
    `options declared in code but missing from ${page}`,
  ).toEqual([]);
  expect(
    documented.filter((k) => !declared.includes(k)),
    `options documented in ${page} that the code does not declare`,
  ).toEqual([]);
  for (const spec of specs) {
    const [type = '', fallback = ''] = rows.get(spec.key) ?? [];
    expect(type, `${page}: type of ${spec.key}`).toContain(spec.type);
    for (const value of spec.values ?? []) expect(type, `${page}: values of ${spec.key}`).toContain(`\`${value}\``);
    const forms = defaultForms(spec);
    if (forms.length > 0) {
      expect(
        forms.some((form) => fallback.includes(form)),
        `${page}: default of ${spec.key} should show ${forms.join(' or ')}, shows "${fallback}"`,
      ).toBe(true);
    }
  }
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens. */
function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  for (const match of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = (match[1] ?? '')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    found.add(slug);
  }
  return found;
}

describe('docs/errors.md', () => {
  const text = read('docs/errors.md');
  const headings = [...text.matchAll(/^## ([A-Z][A-Z0-9_]*)\s*$/gm)].map((m) => m[1] ?? '');
  const codes = Object.keys(ERROR_CODES);

  it('documents every error code of ERROR_CODES, each once', () => {
    expect(codes.filter((c) => !headings.includes(c))).toEqual([]);
    expect(headings.filter((h, i) => headings.indexOf(h) !== i)).toEqual([]);
  });

  it('documents no code that ERROR_CODES lacks', () => {
    expect(headings.filter((h) => !codes.includes(h))).toEqual([]);
  });

  it('states each code’s retryable default, a cause and a fix', () => {
    for (const [code, { retryable }] of Object.entries(ERROR_CODES)) {
      const body = section(text, code);
      const stated = /\*\*Retryable:\*\* (yes|no)\b/.exec(body)?.[1];
      expect(stated, `${code}: retryable`).toBe(retryable ? 'yes' : 'no');
      expect(body, `${code}: cause`).toContain('**Cause:**');
      expect(body, `${code}: fix`).toContain('**Fix:**');
    }
  });
});

describe('the connector types the docs name (issue 10: duckdb was missing)', () => {
  const named = (text: string) => new Set([...text.matchAll(/`([a-z][a-z0-9]*)`/g)].map((m) => m[1]));

  it.each([
    ['docs/errors.md', 'CONNECTOR_UNKNOWN'],
    ['docs/pipeline-file.md', 'sink'],
  ])('%s (%s) names every sink type', (page, heading) => {
    const text = named(section(read(page), heading));
    expect(Object.keys(sinks).filter((type) => !text.has(type))).toEqual([]);
  });

  it.each([
    ['docs/errors.md', 'CONNECTOR_UNKNOWN'],
    ['docs/pipeline-file.md', 'source'],
  ])('%s (%s) names every source type', (page, heading) => {
    const text = named(section(read(page), heading));
    expect(Object.keys(sources).filter((type) => !text.has(type))).toEqual([]);
  });
});

describe('option reference', () => {
  // A connector that is both a source and a sink (nats) has one page with two tables.
  it.each(Object.entries(sources))('the %s source documents exactly its options', (type, entry) => {
    checkOptionTable(`docs/connectors/${type}.md`, sinks[type] ? 'Source options' : 'Options', entry.options);
  });

  it.each(Object.entries(sinks))('the %s sink documents exactly its options', (type, entry) => {
    checkOptionTable(`docs/connectors/${type}.md`, sources[type] ? 'Sink options' : 'Options', entry.options);
  });

  it('docs/scale-out.md documents exactly the scale-out options (besides the NATS connection options)', () => {
    checkOptionTable('docs/scale-out.md', 'The pipeline file', scaleOutOwnOptions);
  });

  it('docs/pipeline-file.md documents exactly the pipeline options', () => {
    checkOptionTable('docs/pipeline-file.md', 'pipeline', pipelineOptionSpecs());
  });

  it('docs/pipeline-file.md lists exactly the options accepted for compatibility and ignored, with why', () => {
    const rows = optionRows(section(read('docs/pipeline-file.md'), 'Accepted for compatibility'));
    const ignored = [
      ...pipelineOptionSpecs().map((s) => ({ block: 'pipeline', spec: s })),
      ...Object.values(sources).flatMap((e) => e.options.map((s) => ({ block: 'source', spec: s }))),
      ...Object.values(sinks).flatMap((e) => e.options.map((s) => ({ block: 'sink', spec: s }))),
    ]
      .filter(({ spec }) => spec.ignored !== undefined)
      .map(({ block, spec }) => `${block}.${spec.key}`);
    expect(ignored.filter((k) => !rows.has(k))).toEqual([]);
    expect([...rows.keys()].filter((k) => !ignored.includes(k))).toEqual([]);
    for (const [key, cells] of rows) expect(cells.join(' ').length, `why ${key} is ignored`).toBeGreaterThan(20);
  });
});

describe('metrics', () => {
  it('docs/operating.md has a row for every metric /metrics serves, the scale-out ones included', async () => {
    const scaleOut = { current: () => undefined, snapshotReaders: 'remote' as const };
    const names = (await prometheusRegistry(new PipelineMetrics('p'), scaleOut).getMetricsAsJSON())
      .map((m) => m.name)
      .filter((name) => !name.startsWith('tributary_process_'));
    const documented = optionRows(section(read('docs/operating.md'), 'Metrics'));
    expect(names.filter((name) => !documented.has(name))).toEqual([]);
    expect(documented.has('tributary_process_*')).toBe(true);
  });
});

describe('transform functions', () => {
  it('docs/pipeline-file.md lists every built-in function with its signature, and no other', () => {
    const text = read('docs/pipeline-file.md');
    const section = text.slice(text.indexOf('### Functions'), text.indexOf('### Filters'));
    const documented = [...section.matchAll(/^\| `([A-Z_]+)/gm)].map((m) => m[1]);
    expect(documented).toEqual([...BUILTIN_FUNCTIONS.keys()]);
    for (const def of BUILTIN_FUNCTIONS.values()) expect(section).toContain(`\`${def.signature}\``);
  });
});

describe('links', () => {
  const pages = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ];

  it.each(pages)('relative links in %s point at files and headings that exist', (page) => {
    const broken: string[] = [];
    // Code (fenced blocks, inline spans) holds no links: `bucket[16](id)` is a partition transform.
    const text = read(page)
      .replace(/```[\s\S]*?```/g, '')
      .replace(/`[^`\n]*`/g, '');
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1] ?? '';
      if (/^[a-z]+:/i.test(target)) continue;
      const [path = '', anchor] = target.split('#');
      const file = path === '' ? join(ROOT, page) : resolve(ROOT, dirname(page), path);
      if (!existsSync(file)) broken.push(target);
      else if (anchor !== undefined && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor)) {
        broken.push(target);
      }
    }
    expect(broken).toEqual([]);
  });
});
