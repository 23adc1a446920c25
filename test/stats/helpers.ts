// For the --stats tests: fetch the stats, parse /metrics with a real parser
// of Prometheus' text format (parse-prometheus-text-format, a port of the
// Python client's parser) after a strict line-by-line check of version 0.0.4
// of the format, which that parser is too lenient to be the only judge of.
import assert from 'node:assert/strict';
import * as net from 'node:net';
import parsePrometheus from 'parse-prometheus-text-format';

export type Family = ReturnType<typeof parsePrometheus>[number];
/** One sample line as the strict check read it. */
export interface Series { name: string; labels: Record<string, string>; value: number }
export interface Metrics {
  /** The package's parse (prom2json's shape). It folds a histogram with labels besides `le` into one
   * unlabelled entry and drops its _sum and _count lines, so histograms are read from `series`. */
  families: Family[];
  series: Series[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;

/** Label pairs of `{a="x",b="y"}`; throws on anything the format does not allow. */
function labelsOf(text: string, line: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    assert.ok(eq > i, `label without a name in: ${line}`);
    const name = text.slice(i, eq);
    assert.match(name, LABEL, `bad label name ${name} in: ${line}`);
    assert.equal(text[eq + 1], '"', `label value not quoted in: ${line}`);
    let j = eq + 2;
    let value = '';
    for (;; j++) {
      assert.ok(j < text.length, `unterminated label value in: ${line}`);
      const c = text[j]!;
      if (c === '"') break;
      if (c === '\\') {
        const n = text[++j];
        assert.ok(n === '\\' || n === '"' || n === 'n', `bad escape \\${n} in: ${line}`);
        value += n === 'n' ? '\n' : n;
      } else {
        value += c;
      }
    }
    out.push([name, value]);
    i = j + 1;
    if (i < text.length) {
      assert.equal(text[i], ',', `labels not comma-separated in: ${line}`);
      i++;
    }
  }
  return out;
}

/**
 * Checks text against the exposition format 0.0.4 and the naming conventions:
 * HELP/TYPE once per family and before its samples, sample names of their
 * family (histogram: _bucket, _sum, _count), no series twice, counters named
 * *_total, units in base units, histogram buckets cumulative with le="+Inf"
 * equal to _count. Returns the package's parse and every sample line.
 */
export function parseMetrics(text: string): Metrics {
  const all: Series[] = [];
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const seen = new Set<string>();
  const sampled = new Set<string>();
  const buckets = new Map<string, Array<[number, number]>>();
  const counts = new Map<string, number>();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      assert.ok(m, `bad comment line: ${line}`);
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      assert.match(name, NAME, `bad metric name in: ${line}`);
      assert.ok(!sampled.has(name), `${kind} for ${name} after its samples`);
      if (kind === 'HELP') {
        assert.ok(!helps.has(name), `HELP twice for ${name}`);
        assert.ok(rest.length > 0, `empty HELP for ${name}`);
        helps.add(name);
      } else {
        assert.ok(!types.has(name), `TYPE twice for ${name}`);
        assert.match(rest, /^(counter|gauge|histogram|summary|untyped)$/, `bad TYPE in: ${line}`);
        types.set(name, rest);
        if (rest === 'counter') assert.match(name, /_total$/, `counter ${name} is not named *_total`);
        assert.doesNotMatch(name, /_(milliseconds|microseconds|kilobytes|megabytes)(_|$)/, `${name}: not a base unit`);
      }
      continue;
    }
    assert.notEqual(line.trim(), '', 'no empty lines');
    const m = /^([^{\s]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `bad sample line: ${line}`);
    const [, name, labelText, value] = m as unknown as [string, string, string | undefined, string];
    assert.match(name, NAME, `bad metric name in: ${line}`);
    assert.match(value, VALUE, `bad value in: ${line}`);
    const labels = labelText === undefined || labelText === '' ? [] : labelsOf(labelText, line);
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    const type = types.get(family);
    assert.ok(type !== undefined, `sample ${name} without a TYPE line`);
    if (family !== name) assert.ok(type === 'histogram' || type === 'summary', `${name} is not a sample of ${family}`);
    sampled.add(family);
    const key = `${name}{${labels.map(([k, v]) => `${k}=${JSON.stringify(v)}`).sort().join(',')}}`;
    assert.ok(!seen.has(key), `series twice: ${key}`);
    seen.add(key);
    all.push({ name, labels: Object.fromEntries(labels), value: Number(value) });
    if (type === 'histogram') {
      const series = labels.filter(([k]) => k !== 'le').map(([k, v]) => `${k}=${v}`).sort().join(',');
      if (name.endsWith('_bucket')) {
        const le = labels.find(([k]) => k === 'le');
        assert.ok(le, `bucket without le: ${line}`);
        const list = buckets.get(series) ?? [];
        list.push([le[1] === '+Inf' ? Infinity : Number(le[1]), Number(value)]);
        buckets.set(series, list);
      } else if (name.endsWith('_count')) {
        counts.set(series, Number(value));
      }
    }
  }
  for (const [series, list] of buckets) {
    for (let i = 1; i < list.length; i++) {
      assert.ok(list[i]![0] > list[i - 1]![0], `buckets of ${series} not in increasing order`);
      assert.ok(list[i]![1] >= list[i - 1]![1], `buckets of ${series} not cumulative`);
    }
    assert.equal(list.at(-1)![0], Infinity, `no +Inf bucket for ${series}`);
    assert.equal(list.at(-1)![1], counts.get(series), `+Inf bucket of ${series} differs from its _count`);
  }
  return { families: parsePrometheus(text), series: all };
}

/** The value of one counter or gauge series, from the package's parse, by its labels. */
export function sample(m: Metrics, name: string, labels: Record<string, string> = {}): number {
  const f = m.families.find((x) => x.name === name);
  assert.ok(f, `no metric ${name}`);
  const s = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  assert.ok(s, `no ${name}${JSON.stringify(labels)}`);
  assert.ok(s.value !== undefined, `${name} is not a counter or gauge`);
  return Number(s.value);
}

/** The value of one sample line (histogram parts included), by its exact name and labels. */
export function line(m: Metrics, name: string, labels: Record<string, string>): number {
  const s = m.series.find((x) => x.name === name && Object.keys(x.labels).length === Object.keys(labels).length &&
    Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.ok(s, `no ${name}${JSON.stringify(labels)}`);
  return s.value;
}

export async function fetchText(url: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** Plain --stats: connect, read to the end, parse. */
export function readPlain(target: string | number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const c = typeof target === 'number' ? net.connect(target, '127.0.0.1') : net.connect(target);
    let data = '';
    c.setEncoding('utf8').on('data', (d: string) => { data += d; });
    c.on('end', () => {
      try {
        resolve(JSON.parse(data));
      } catch (err) {
        reject(new Error(`not JSON: ${data.slice(0, 200)} (${String(err)})`));
      }
    });
    c.on('error', reject);
    c.setTimeout(5_000, () => c.destroy(new Error('timeout')));
  });
}
