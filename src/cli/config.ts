// Options from three places besides the command line: a config file
// (`--config tsgi.ini` with a [tsgi] section, or `tsgi.json`) and TSGI_*
// environment variables. Each becomes command-line items, validated by the
// flag parser one entry at a time (so an error names its file and line, or
// its variable), then merged key by key into one command line for parseArgs:
// the one validation path. Precedence, per option: command line > environment
// > config file > defaults. A repeatable option (--http, --mount) takes all
// its values from the highest source that gives any: `--http :9000` on the
// command line replaces the file's list rather than adding to it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ERRORS, TsgiError } from '../errors.js';
import { FLAGS, parseArgs, splitArgs, uwsgiHint, type Flag } from './flags.js';
import { closestName } from './suggest.js';

/** Where a value came from, for messages and --print-config. */
export type SourceKind = 'command line' | 'environment' | 'config file';

interface Entry {
  /** undefined: the app argument ("app" in a file, TSGI_APP). */
  flag: Flag | undefined;
  /** A bool's value is "true"/"false"; others the raw value as given. */
  raw: string;
  /** "--http", "tsgi.ini:3", "TSGI_HTTP". */
  where: string;
  kind: SourceKind;
}

export interface ResolvedArgs {
  /** The merged command line, for parseArgs. */
  argv: string[];
  /** Each option's winning entries in flag order, the app last; for --print-config. */
  entries: Array<{ name: string; values: string[]; where: string[] }>;
  /** The config file read, if any. */
  file: string | undefined;
  /** Lines to log (unknown TSGI_* variables). */
  warnings: string[];
}

/** Keys that only make sense on the command line. */
const COMMAND_LINE_ONLY = new Set(['help', 'version', 'config', 'print-config', 'cgi']);
/** TSGI_* variables that are not options: tsgi's own plumbing, tests, benchmarks. */
const NOT_OPTIONS = new Set(['TSGI_CONFIG', 'TSGI_WORKER', 'TSGI_ADDON', 'TSGI_ASAN', 'TSGI_ROOT']);

const PRIORITY: Record<SourceKind, number> = { 'config file': 0, environment: 1, 'command line': 2 };

function configError(where: string, msg: string): TsgiError {
  return new TsgiError('TSGI_ERR_CONFIG', `${where}: ${msg}`);
}

function longName(flag: Flag): string {
  return flag.names.find((n) => n.startsWith('--'))!;
}

/** "max_body_size", "Max-Body-Size" → the flag of --max-body-size (any long alias); "app" → null. */
function flagOf(key: string): Flag | null | undefined {
  const name = key.trim().toLowerCase().replace(/_/g, '-');
  if (name === 'app') return null;
  return FLAGS.find((f) => f.names.includes(`--${name}`));
}

/** The closest option name to a typo (edit distance at most 2), e.g. "processes". */
function closest(key: string): string | undefined {
  const name = key.toLowerCase().replace(/_/g, '-');
  return closestName(name, FLAGS.flatMap((f) => f.names.filter((n) => n.startsWith('--')).map((n) => n.slice(2))));
}

function suggestion(key: string): string {
  const best = closest(key);
  return best === undefined ? '' : ` (did you mean ${best}?)`;
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

/** Makes one entry from a key and its value; checks the key and the value by the flag parser. */
function entry(key: string, value: string, where: string, kind: SourceKind): Entry {
  const flag = flagOf(key);
  if (flag === undefined) {
    const hint = uwsgiHint(`--${key.trim().toLowerCase().replace(/_/g, '-')}`);
    throw configError(where, `unknown option "${key}"${hint !== undefined ? ` (uWSGI's): ${hint}` : suggestion(key)}`);
  }
  const name = flag === null ? 'app' : longName(flag).slice(2);
  if (COMMAND_LINE_ONLY.has(name)) throw configError(where, `"${key}" is only accepted on the command line`);
  if (value === '') throw configError(where, `"${key}" has an empty value`);
  if (flag !== null && flag.kind === 'bool') {
    const v = value.toLowerCase();
    if (!TRUE.has(v) && !FALSE.has(v)) throw configError(where, `"${key}" needs true/false, yes/no, on/off or 1/0, not "${value}"`);
    return { flag, raw: TRUE.has(v) ? 'true' : 'false', where, kind };
  }
  if (flag !== null) {
    try {
      parseArgs([`${longName(flag)}=${value}`]);
    } catch (err) {
      // "invalid command line: --harakiri needs seconds, ..." → "harakiri needs seconds, ..."
      const msg = (err instanceof TsgiError ? err.message.slice(ERRORS.TSGI_ERR_CLI_USAGE.message.length + 2) : String(err))
        .replace(/^--[a-z-]+/, longName(flag).slice(2));
      throw configError(where, msg);
    }
  }
  return { flag: flag ?? undefined, raw: value, where, kind };
}

function unquote(v: string): string {
  return v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0] ? v.slice(1, -1) : v;
}

/**
 * uWSGI-style ini: a [tsgi] section of `key = value` lines; a repeated key
 * adds a value to a repeatable option; whole-line comments start with # or ;.
 * Other sections are ignored (a file may serve several programs), but the
 * [tsgi] section must exist, so a misspelt section header is not silent.
 */
export function parseIni(text: string, file: string): Entry[] {
  const out: Entry[] = [];
  let section: string | undefined;
  let sawTsgi = false;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const where = `${file}:${i + 1}`;
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]*)\]$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      if (section === 'tsgi') sawTsgi = true;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw configError(where, `expected "key = value", not "${line}"`);
    if (section === undefined) throw configError(where, 'an option before the [tsgi] section header');
    if (section !== 'tsgi') continue;
    out.push(entry(line.slice(0, eq).trim(), unquote(line.slice(eq + 1).trim()), where, 'config file'));
  }
  if (!sawTsgi) throw configError(file, 'no [tsgi] section');
  return out;
}

/** The line of the first `"key":` in JSON text, for messages. */
function jsonLine(text: string, key: string): number {
  const at = text.search(new RegExp(`"${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\s*:`));
  return at < 0 ? 1 : text.slice(0, at).split('\n').length;
}

/** A JSON object; arrays for repeatable options; strings, numbers and booleans as values. */
export function parseJson(text: string, file: string): Entry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw configError(file, `not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw configError(file, 'expected a JSON object of options');
  const out: Entry[] = [];
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const where = `${file}:${jsonLine(text, key)}`;
    const flag = flagOf(key);
    const values = Array.isArray(value) ? value : [value];
    if (Array.isArray(value) && (flag === null || (flag !== undefined && flag.kind !== 'list'))) {
      throw configError(where, `"${key}" takes one value, not an array`);
    }
    for (const v of values) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw configError(where, `"${key}" needs a string, number or boolean${flag?.kind === 'list' ? ' (or an array of them)' : ''}`);
      }
      out.push(entry(key, String(v), where, 'config file'));
    }
  }
  return out;
}

/** Reads a config file: .json as JSON, anything else as ini. */
export function readConfigFile(file: string): Entry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw configError(file, code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? String(err)})`);
  }
  return path.extname(file).toLowerCase() === '.json' ? parseJson(text, file) : parseIni(text, file);
}

/**
 * TSGI_HTTP=:8000, TSGI_MAX_BODY_SIZE=1000000, TSGI_VACUUM=yes. A repeatable
 * option takes several values separated by commas or whitespace
 * (TSGI_HTTP=":8000, /run/app.sock"); a value that contains either needs the
 * command line or a file. An unknown TSGI_* name is a warning, not an error:
 * the environment is shared with other programs, a config file is not.
 */
export function readEnv(env: NodeJS.ProcessEnv, warnings: string[]): Entry[] {
  const out: Entry[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('TSGI_') || value === undefined || NOT_OPTIONS.has(name) || name.startsWith('TSGI_TEST_')) continue;
    // Empty is unset, as a shell's `${TSGI_X:-}` or compose's `TSGI_X=` means.
    if (value.trim() === '') continue;
    const key = name.slice(5);
    const flag = flagOf(key);
    if (flag === undefined) {
      const best = closest(key);
      warnings.push(`ignoring ${name}: no option --${key.toLowerCase().replace(/_/g, '-')}` +
        (best === undefined ? '' : ` (did you mean TSGI_${best.toUpperCase().replace(/-/g, '_')}?)`));
      continue;
    }
    const parts = flag !== null && flag.kind === 'list' ? value.split(/[\s,]+/).filter((v) => v !== '') : [value.trim()];
    for (const v of parts) out.push(entry(key, v, name, 'environment'));
  }
  return out;
}

/** Command-line items as entries (the app argument included). */
function fromCommandLine(argv: readonly string[]): Entry[] {
  return splitArgs(argv).map((a) => ({
    flag: a.flag,
    raw: a.flag?.kind === 'bool' ? 'true' : a.raw!,
    where: a.flag === undefined ? 'command line' : a.name,
    kind: 'command line' as const,
  }));
}

/** Merges the command line, TSGI_* variables and the config file (--config FILE, else TSGI_CONFIG). */
export function resolveArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ResolvedArgs {
  const cli = fromCommandLine(argv);
  const configFlag = cli.filter((e) => e.flag !== undefined && e.flag.key === 'config').pop();
  const file = configFlag?.raw ?? (env.TSGI_CONFIG !== undefined && env.TSGI_CONFIG !== '' ? env.TSGI_CONFIG : undefined);
  const warnings: string[] = [];
  const all = [...(file !== undefined ? readConfigFile(file) : []), ...readEnv(env, warnings), ...cli];

  // Per option, the entries of its highest source; a one-value option set
  // twice in one file or the environment is an error, not "last one wins".
  const byKey = new Map<string, Entry[]>();
  for (const e of all) {
    const key = e.flag === undefined ? 'app' : e.flag.key;
    const have = byKey.get(key);
    if (have === undefined || PRIORITY[e.kind] > PRIORITY[have[0]!.kind]) {
      byKey.set(key, [e]);
    } else if (PRIORITY[e.kind] === PRIORITY[have[0]!.kind]) {
      const repeatable = e.flag !== undefined && e.flag.kind === 'list';
      if (!repeatable && e.kind !== 'command line') {
        throw configError(e.where, `"${e.flag === undefined ? 'app' : longName(e.flag).slice(2)}" is already set at ${have[0]!.where} (only repeatable options may be given twice)`);
      }
      have.push(e);
    }
  }

  const out: string[] = [];
  const entries: ResolvedArgs['entries'] = [];
  // The app last (--module is the app too), its entries named "app".
  const order = [...FLAGS.map((f) => f.key as string).filter((k) => k !== 'app'), 'app'];
  for (const key of order) {
    const es = byKey.get(key);
    if (es === undefined) continue;
    byKey.delete(key);  // aliases share a key: once
    const flag = es[0]!.flag;
    for (const e of es) {
      if (flag === undefined) out.push(e.raw);
      else if (flag.kind === 'bool') { if (e.raw === 'true') out.push(longName(flag)); }
      else out.push(`${longName(flag)}=${e.raw}`);
    }
    if (flag !== undefined && (flag.key === 'config' || flag.key === 'printConfig')) continue;
    entries.push({ name: flag === undefined || flag.key === 'app' ? 'app' : longName(flag).slice(2), values: es.map((e) => e.raw), where: es.map((e) => e.where) });
  }
  return { argv: out, entries, file, warnings };
}

/** --print-config: the merged options as an ini file, each value's source in a comment. */
export function printConfig(r: ResolvedArgs): string {
  const lines = [
    '# tsgi options, merged: command line > TSGI_* environment > config file > defaults',
    `# config file: ${r.file ?? '(none)'}; options not listed have their defaults (tsgi --help)`,
    '[tsgi]',
  ];
  for (const e of r.entries) {
    e.values.forEach((v, i) => {
      const left = `${e.name} = ${v}`;
      lines.push(`${left.padEnd(40)} # ${e.where[i]}`);
    });
  }
  return lines.join('\n') + '\n';
}
