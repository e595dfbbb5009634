/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: it throws
 * on anything a Prometheus server would reject or that is malformed (unknown line shapes, bad
 * names, bad escapes, samples before or without their TYPE, duplicate series, histogram buckets
 * that are not cumulative or lack +Inf), so a test that parses /metrics checks the format too.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string | null;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function fail(lineNo: number, line: string, why: string): never {
  throw new Error(`exposition line ${lineNo}: ${why}: ${JSON.stringify(line)}`);
}

/** As Prometheus reads values (Go's ParseFloat): Inf and NaN in any case (prom-client writes "Nan"). */
function parseValue(raw: string): number {
  if (/^\+?inf(inity)?$/i.test(raw)) return Infinity;
  if (/^-inf(inity)?$/i.test(raw)) return -Infinity;
  if (/^nan$/i.test(raw)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`"${raw}" is not a sample value`);
  return Number(raw);
}

/** Unescape HELP text: only \\ and \n are escapes there. */
function unescapeHelp(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === '\\' ? '\\' : `\\${c}`));
}

/** Labels `{a="x",b="y"}` starting at s[i] === '{'; returns the labels and the index after '}'. */
function parseLabels(s: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (s[i] === '}') return { labels, end: i + 1 };
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(s.slice(i));
    if (!m) throw new Error(`bad label at column ${i}`);
    const name = m[1]!;
    if (Object.hasOwn(labels, name)) throw new Error(`label "${name}" repeated`);
    i += m[0].length;
    let value = '';
    for (;;) {
      const c = s[i];
      if (c === undefined) throw new Error('unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const e = s[i + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`bad escape \\${e ?? ''} in label value`);
        i += 2;
      } else {
        value += c;
        i += 1;
      }
    }
    labels[name] = value;
    i += 1;
    if (s[i] === ',') i += 1;
    else if (s[i] !== '}') throw new Error(`expected "," or "}" at column ${i}`);
  }
}

/** The family a sample name belongs to, given its type. */
function familyOf(sampleName: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  const direct = families.get(sampleName);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const f = families.get(sampleName.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  if (text !== '' && !text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, idx) => {
    const n = idx + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) {
        if (/^# (HELP|TYPE)\b/.test(line)) fail(n, line, 'malformed HELP/TYPE');
        return; // a plain comment
      }
      const [, kind, name, rest] = m as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (!METRIC_NAME.test(name)) fail(n, line, `bad metric name "${name}"`);
      let f = families.get(name);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest as MetricType)) fail(n, line, `unknown type "${rest}"`);
        if (f && f.samples.length) fail(n, line, 'TYPE after samples');
        if (f && f.type !== 'untyped') fail(n, line, 'TYPE given twice');
        if (!f) families.set(name, (f = { name, type: rest as MetricType, help: null, samples: [] }));
        else f.type = rest as MetricType;
      } else {
        if (f?.help != null) fail(n, line, 'HELP given twice');
        if (!f) families.set(name, (f = { name, type: 'untyped', help: null, samples: [] }));
        f.help = unescapeHelp(rest);
      }
      return;
    }
    const nm = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nm) fail(n, line, 'not a sample');
    const name = nm[0];
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      try {
        const parsed = parseLabels(rest, 0);
        labels = parsed.labels;
        rest = rest.slice(parsed.end);
      } catch (err) {
        fail(n, line, (err as Error).message);
      }
    }
    const vm = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
    if (!vm) fail(n, line, 'expected " value [timestamp]"');
    let value: number;
    try {
      value = parseValue(vm[1]!);
    } catch (err) {
      fail(n, line, (err as Error).message);
    }
    const family = familyOf(name, families);
    if (!family) fail(n, line, `sample of "${name}" without a TYPE before it`);
    for (const l of Object.keys(labels)) if (!LABEL_NAME.test(l) || l.startsWith('__')) fail(n, line, `bad label name "${l}"`);
    if (name.endsWith('_bucket') && family.type === 'histogram' && labels['le'] === undefined) fail(n, line, 'bucket without le');
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) fail(n, line, 'duplicate series');
    seen.add(key);
    if (family.type === 'counter' && !(value >= 0)) fail(n, line, 'counter below zero');
    family.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** Buckets per label set: cumulative (non-decreasing in le), ending at +Inf, which equals _count. */
function checkHistogram(f: MetricFamily): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) g.buckets.push([parseValue(le!), s.value]);
    else if (s.name === `${f.name}_count`) g.count = s.value;
  }
  for (const [key, g] of groups) {
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![1] < sorted[i - 1]![1]) throw new Error(`${f.name}${key}: buckets are not cumulative`);
    }
    const inf = sorted.at(-1);
    if (!inf || inf[0] !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
    if (g.count !== undefined && g.count !== inf[1]) throw new Error(`${f.name}${key}: +Inf bucket ${inf[1]} != _count ${g.count}`);
  }
}

/** The value of one series, or undefined. */
export function sampleValue(families: Map<string, MetricFamily>, sampleName: string, labels: Record<string, string> = {}): number | undefined {
  const f = familyOf(sampleName, families);
  const want = JSON.stringify(Object.entries(labels).sort());
  return f?.samples.find((s) => s.name === sampleName && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}
