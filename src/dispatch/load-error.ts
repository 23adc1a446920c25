// What tsgi says when an app module cannot be loaded, so that it points at
// the line as plain `node app.js` would: a syntax error with file:line, the
// source line and a caret; an error thrown while the module ran with its
// stack (the app's frames, not Node's loader or tsgi's); a TypeScript entry
// point the running Node cannot strip with the version or loader that can.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** tsgi's own compiled files: their frames say nothing about the app. */
const OWN_DIR = path.resolve(__dirname, '..');

/** A stack without Node's internal frames and tsgi's own. */
export function appStack(err: Error): string {
  const stack = err.stack ?? `${err.name}: ${err.message}`;
  return stack.split('\n')
    .filter((l) => !(/^\s+at /.test(l) && (/\(node:|at node:/.test(l) || l.includes(OWN_DIR + path.sep))))
    .join('\n');
}

/** Files the module imports by a relative specifier, statically (a first approximation: no parser). */
function relativeImports(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const m of text.matchAll(re)) out.push(path.resolve(path.dirname(file), m[1]!));
  return out;
}

/** The syntax error `node --check` reports for `file` (file:line, the line, a caret, the message), if any. */
function checkSyntax(file: string): string | undefined {
  const r = spawnSync(process.execPath, [...process.execArgv.filter((a) => !a.startsWith('--inspect')), '--check', file],
    { encoding: 'utf8', timeout: 10_000 });
  if (r.status === 0 || r.stderr === undefined) return undefined;
  const head = r.stderr.split(/\n\s+at /)[0]!.trim();
  return /SyntaxError/.test(head) ? head : undefined;
}

/** At most this many files of the import graph are checked for an ES module's syntax error. */
const CHECK_FILES = 40;

/**
 * The location of a SyntaxError raised by loading `entry`. A CommonJS
 * module's error carries it at the head of its stack already; an ES
 * module's never does (Node prints it only for an uncaught error), so the
 * entry and then the files it imports are checked with `node --check`,
 * which reports it without running anything.
 */
export function syntaxErrorText(err: SyntaxError, entry: string): string {
  const stack = err.stack ?? '';
  const at = stack.indexOf(`\n\n${err.name}: `);
  if (at > 0 && /^\S.*:\d+\n/.test(stack)) return `${stack.slice(0, at)}\n\n${err.name}: ${err.message}`;
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0 && seen.size < CHECK_FILES) {
    const file = queue.shift()!;
    if (seen.has(file) || !fs.existsSync(file)) continue;
    seen.add(file);
    const found = checkSyntax(file);
    if (found !== undefined) return found;
    queue.push(...relativeImports(file));
  }
  return `${err.name}: ${err.message} (in ${entry} or a module it imports)`;
}

const TS_EXT = /\.(ts|mts|cts)$/;

/**
 * For a TypeScript entry point the running Node cannot load: which Node or
 * loader can. Node strips types by itself from 22.18 and 23.6 on; 22.6 to
 * 22.17 need --experimental-strip-types; older ones a loader such as tsx.
 */
export function typescriptHint(file: string, version = process.versions.node): string | undefined {
  if (!TS_EXT.test(file)) return undefined;
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const loader = 'NODE_OPTIONS="--import tsx" tsgi ... (npm install tsx), or compile it to JavaScript first';
  if (major === 22 && minor >= 6 || major === 23 && minor < 6) {
    return `Node ${version} strips TypeScript types only when asked: NODE_OPTIONS=--experimental-strip-types tsgi ...; ` +
      `Node 22.18+ or 23.6+ does it by default; or a loader: ${loader}`;
  }
  return `Node ${version} cannot run TypeScript by itself: use Node 22.18+ or 23.6+ (types are stripped by default), ` +
    `or a loader: ${loader}`;
}
