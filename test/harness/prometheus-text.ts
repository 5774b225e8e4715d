/** One sample of the Prometheus text exposition format. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A scrape, parsed: the samples, and each metric family's TYPE and HELP. */
export interface PromScrape {
  readonly samples: readonly PromSample[];
  readonly types: ReadonlyMap<string, string>;
  readonly help: ReadonlyMap<string, string>;
}

/**
 * Parses the text format (version 0.0.4) strictly: a line that is neither a comment nor `name{labels} value`
 * throws, and so does a sample whose family has no TYPE line before it.
 */
export function parsePrometheusText(text: string): PromScrape {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      (comment[1] === 'HELP' ? help : types).set(comment[2]!, comment[3]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a Prometheus sample line: ${line}`);
    const name = sample[1]!;
    const family = [...types.keys()].find(
      (f) => name === f || (/^(_bucket|_sum|_count)$/.test(name.slice(f.length)) && name.startsWith(f)),
    );
    if (family === undefined) throw new Error(`sample ${name} has no TYPE line before it`);
    const labels: Record<string, string> = {};
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = sample[3] === '+Inf' ? Infinity : Number(sample[3]);
    // prom-client writes `Nan` for a fresh event-loop histogram; Prometheus (Go's ParseFloat) takes NaN in any case.
    if (Number.isNaN(value) && sample[3]!.toLowerCase() !== 'nan') throw new Error(`bad value in ${line}`);
    samples.push({ name, labels, value });
  }
  return { samples, types, help };
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(
  scrape: PromScrape,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  return scrape.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}
