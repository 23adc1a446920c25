// Loads the app module named on the command line (ESM or CommonJS), picks
// the export ("module.js:name", else default, app, fetch, handler) and tells
// what kind of app it is: TSGI, a Node request listener (Express, Koa,
// Fastify) or a fetch handler (Hono, `{ fetch }`). The rules are listed in
// `tsgi --help` and docs/adapters.md; keep the three in step.
import * as path from 'node:path';
import * as fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { TsgiError } from '../errors.js';
import type { App, Lifecycle } from '../tsgi/types.js';
import { fromFetch, isFetchApp, type FetchApp, type FetchOptions } from '../adapters/fetch.js';
import { fromNodeApp, fromNodeListener, nodeAppHooks } from '../adapters/node/index.js';
import { appStack, syntaxErrorText, typescriptHint } from './load-error.js';
import { listenError, withoutListen } from './listen-guard.js';

export type AppType = 'tsgi' | 'node' | 'fetch';
export const APP_TYPES: readonly AppType[] = ['tsgi', 'node', 'fetch'];

/** Export names tried in order when the spec names none. */
const DEFAULT_EXPORTS = ['default', 'app', 'fetch', 'handler'] as const;

export interface LoadedApp {
  app: App;
  /** How it was recognised (or forced with --app-type). */
  kind: AppType;
  /** The export it came from: "default", "app", a name given after ":". */
  exportName: string;
  /**
   * Its lifecycle hooks, to run in this order at startup (in reverse at
   * shutdown): the module's `startup`/`shutdown` exports, the app value's
   * own, the adapter's (Fastify's ready() and close()).
   */
  hooks: Lifecycle[];
}

export function splitSpec(spec: string): { file: string; name: string | undefined } {
  // "C:\\x.js" style drive letters do not occur on our platforms; the last
  // colon after the final path separator names an export.
  const slash = spec.lastIndexOf('/');
  const colon = spec.lastIndexOf(':');
  if (colon > slash && colon > 0) return { file: spec.slice(0, colon), name: spec.slice(colon + 1) };
  return { file: spec, name: undefined };
}

/** What a value is, for an error message: "a number (42)", "an object with keys a, b". */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'nothing (undefined)';
  switch (typeof x) {
    case 'number': case 'bigint': case 'boolean': return `a ${typeof x} (${String(x)})`;
    case 'string': return `a string (${JSON.stringify(x.length > 40 ? x.slice(0, 40) + '…' : x)})`;
    case 'symbol': return 'a symbol';
    case 'function': return `a function of ${x.length} parameter${x.length === 1 ? '' : 's'}`;
  }
  const ctor = (x as { constructor?: { name?: unknown } }).constructor?.name;
  const keys = Object.keys(x as object);
  const shown = keys.slice(0, 6).join(', ') + (keys.length > 6 ? ', …' : '');
  const what = typeof ctor === 'string' && ctor !== 'Object' && ctor !== '' ? `an object (${ctor})` : 'an object';
  return keys.length === 0 ? `${what} with no keys` : `${what} with keys ${shown}`;
}

const EXPECTED = 'expected a TSGI app (req) => reply, a Node listener (req, res) such as an Express, Koa or Fastify app, ' +
  'or a fetch handler / an object with fetch() such as a Hono app';

function kindError(where: string, x: unknown, detail = EXPECTED): TsgiError {
  return new TsgiError('TSGI_ERR_APP_KIND', `${where} is ${describe(x)}; ${detail}`);
}

/**
 * Turns an exported value into a TSGI app by the detection rules, or by
 * `type` when given (--app-type). `where` names the export in errors
 * ("app.js:default"); `exportName` matters for a bare function named fetch.
 */
export function toApp(x: unknown, exportName: string, where: string, type?: AppType,
  fetchOptions?: FetchOptions): { app: App; kind: AppType } {
  if (type === 'tsgi') {
    if (typeof x !== 'function') throw kindError(where, x, 'expected a function (req) => reply for --app-type tsgi');
    return { app: x as App, kind: 'tsgi' };
  }
  if (type === 'fetch') {
    if (typeof x !== 'function' && !isFetchApp(x)) {
      throw kindError(where, x, 'expected a function (request) => Response or an object with fetch() for --app-type fetch');
    }
    return { app: fromFetch(x as FetchApp, fetchOptions), kind: 'fetch' };
  }
  if (type === 'node') {
    const app = fromNodeApp(x) ?? (typeof x === 'function' ? fromNodeListener(x as never) : undefined);
    if (app === undefined) {
      throw kindError(where, x, 'expected a Node listener (req, res), a Koa app or a Fastify instance for --app-type node');
    }
    return { app, kind: 'node' };
  }
  if (isFetchApp(x)) return { app: fromFetch(x as FetchApp, fetchOptions), kind: 'fetch' };
  // `export function fetch(request, env, ctx)` is a fetch handler whatever
  // its parameter count: the name says so.
  if (typeof x === 'function' && exportName === 'fetch') return { app: fromFetch(x as FetchApp, fetchOptions), kind: 'fetch' };
  const node = fromNodeApp(x);
  if (node !== undefined) return { app: node, kind: 'node' };
  // Arity 1 is (req) => reply; arity 0 ((...args) =>, a bound or wrapped
  // function) cannot say, and TSGI is what tsgi serves natively.
  if (typeof x === 'function' && x.length <= 1) return { app: x as App, kind: 'tsgi' };
  throw kindError(where, x);
}

/**
 * Whether a default export is a CommonJS module's exports object holding the
 * app under a name (`module.exports = { app }`) rather than an app itself.
 * Koa and Fastify instances are objects too, but carry none of those names.
 */
function isExportsBag(x: unknown): boolean {
  if (x === null || typeof x !== 'object' || isFetchApp(x)) return false;
  const bag = x as Record<string, unknown>;
  return DEFAULT_EXPORTS.some((d) => d !== 'default' && bag[d] !== undefined);
}

/** The export the spec asks for, by the default order when it names none. */
function pick(mod: Record<string, unknown>, file: string, name: string | undefined): { value: unknown; exportName: string } {
  // A CommonJS module's named exports may only be on its default object
  // (module.exports), when Node's static analysis did not find them.
  const bag = mod.default !== null && (typeof mod.default === 'object' || typeof mod.default === 'function')
    ? mod.default as Record<string, unknown> : undefined;
  const get = (n: string): unknown => mod[n] !== undefined ? mod[n] : n === 'default' ? undefined : bag?.[n];
  if (name !== undefined) {
    const value = get(name);
    if (value === undefined) {
      const names = Object.keys(mod).filter((k) => k !== 'module.exports');
      throw new TsgiError('TSGI_ERR_APP_KIND',
        `${file} has no export named "${name}" (it exports ${names.length > 0 ? names.join(', ') : 'nothing'})`);
    }
    return { value, exportName: name };
  }
  for (const n of DEFAULT_EXPORTS) {
    const value = get(n);
    if (value === undefined) continue;
    // `module.exports = { app }`: the default is the bag, look inside it.
    if (n === 'default' && isExportsBag(value)) continue;
    return { value, exportName: n };
  }
  const names = Object.keys(mod).filter((k) => k !== 'module.exports');
  throw new TsgiError('TSGI_ERR_APP_KIND',
    `${file} has no default export and none named app, fetch or handler (it exports ${names.length > 0 ? names.join(', ') : 'nothing'})`);
}

/** Why `file` did not load, pointing at the line (src/dispatch/load-error.ts). */
function loadErrorText(file: string, abs: string, err: unknown): string {
  if (!(err instanceof Error)) return `${file} threw ${describe(err)} while loading`;
  const code = (err as { code?: unknown }).code;
  if (code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    const hint = typescriptHint(abs);
    if (hint !== undefined) return `${file}: ${hint}`;
  }
  if (err.name === 'SyntaxError') return `${file} has a syntax error:\n${syntaxErrorText(err as SyntaxError, abs)}`;
  return `${file} threw while loading:\n${appStack(err)}`;
}

/**
 * A Fastify instance's startup, its server's listen() recording instead of
 * binding meanwhile: `fastify.listen()` at the top of the module binds only
 * once the instance is ready, after the import (see listen-guard.ts).
 */
function guardFastify(hooks: Lifecycle, value: unknown, file: string): Lifecycle {
  const server = (value as { server?: { listen?: unknown } } | null)?.server;
  const start = hooks.startup;
  if (start === undefined || server === undefined || server === null || typeof server.listen !== 'function') return hooks;
  return {
    ...hooks,
    startup: async () => {
      let listened = false;
      server.listen = function listen(this: unknown) {
        listened = true;
        return this;
      };
      try {
        await start();
        // Fastify's listen() continues from the same ready() promise.
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        delete server.listen;
      }
      if (listened) throw listenError(file, 'fastify.listen()');
    },
  };
}

/** The hooks of a loaded module (see LoadedApp.hooks), each function once. */
function lifecycleOf(mod: Record<string, unknown>, value: unknown, kind: AppType, file: string): Lifecycle[] {
  // A CommonJS module's exports may only be on its default object, as in pick().
  const bag = mod.default !== null && (typeof mod.default === 'object' || typeof mod.default === 'function')
    ? mod.default as Record<string, unknown> : undefined;
  const seen = new Set<unknown>();
  const take = (holder: Record<string, unknown> | undefined, n: 'startup' | 'shutdown'): (() => unknown) | undefined => {
    const f = holder?.[n];
    if (typeof f !== 'function' || seen.has(f)) return undefined;
    seen.add(f);
    return holder === mod ? f as () => unknown : (f as () => unknown).bind(holder);
  };
  const hooks: Lifecycle[] = [];
  const add = (holder: Record<string, unknown> | undefined): void => {
    const startup = take(holder, 'startup');
    const shutdown = take(holder, 'shutdown');
    if (startup !== undefined || shutdown !== undefined) {
      hooks.push({ ...(startup !== undefined ? { startup } : {}), ...(shutdown !== undefined ? { shutdown } : {}) });
    }
  };
  add(mod);
  add(bag);
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) add(value as Record<string, unknown>);
  if (kind === 'node') {
    const adapter = nodeAppHooks(value);
    if (adapter !== undefined) hooks.push(guardFastify(adapter, value, file));
  }
  return hooks;
}

/**
 * Loads `spec` ("app.js" or "app.js:name") and makes it a TSGI app, saying
 * how it was recognised. `fetchOptions` go to fromFetch for a fetch handler
 * (--fetch-override-globals).
 */
export async function resolveApp(spec: string, cwd = process.cwd(), type?: AppType,
  fetchOptions?: FetchOptions): Promise<LoadedApp> {
  const { file, name } = splitSpec(spec);
  const abs = path.resolve(cwd, file);
  if (!fs.existsSync(abs)) throw new TsgiError('TSGI_ERR_APP_LOAD', `${file}: no such file`);
  let mod: Record<string, unknown>;
  try {
    const loaded = await withoutListen(() => import(pathToFileURL(abs).href) as Promise<Record<string, unknown>>);
    if (loaded.listened) throw listenError(file, loaded.site);
    mod = loaded.value;
  } catch (err) {
    if (err instanceof TsgiError) throw err;
    throw new TsgiError('TSGI_ERR_APP_LOAD', loadErrorText(file, abs, err), { cause: err });
  }
  const { value, exportName } = pick(mod, file, name);
  const { app, kind } = toApp(value, exportName, `${file}:${exportName}`, type, fetchOptions);
  const hooks = lifecycleOf(mod, value, kind, file);
  // The fetch adapter's own: the global Response given back (--fetch-override-globals).
  const restore = (app as { shutdown?: () => void }).shutdown;
  if (kind === 'fetch' && typeof restore === 'function') hooks.push({ shutdown: restore });
  return { app, kind, exportName, hooks };
}

/** Loads `spec` and returns the TSGI app (see resolveApp). */
export async function loadApp(spec: string, cwd = process.cwd(), type?: AppType, fetchOptions?: FetchOptions): Promise<App> {
  return (await resolveApp(spec, cwd, type, fetchOptions)).app;
}
