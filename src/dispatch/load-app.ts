// Loads the app module named on the command line: ESM or CommonJS, a named
// export chosen with "module.js:name", otherwise the default export.
import * as path from 'node:path';
import * as fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { TsgiError } from '../errors.js';
import type { App } from '../tsgi/types.js';

export function splitSpec(spec: string): { file: string; name: string | undefined } {
  // "C:\\x.js" style drive letters do not occur on our platforms; the last
  // colon after the final path separator names an export.
  const slash = spec.lastIndexOf('/');
  const colon = spec.lastIndexOf(':');
  if (colon > slash && colon > 0) return { file: spec.slice(0, colon), name: spec.slice(colon + 1) };
  return { file: spec, name: undefined };
}

export async function loadApp(spec: string, cwd = process.cwd()): Promise<App> {
  const { file, name } = splitSpec(spec);
  const abs = path.resolve(cwd, file);
  if (!fs.existsSync(abs)) throw new TsgiError('TSGI_ERR_APP_LOAD', `${file}: no such file`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    const first = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new TsgiError('TSGI_ERR_APP_LOAD', `${file}: ${first}`, { cause: err });
  }
  let candidate: unknown;
  if (name !== undefined) {
    candidate = mod[name];
    // A CommonJS module's named exports may only be on its default object.
    if (candidate === undefined && mod.default && typeof mod.default === 'object') {
      candidate = (mod.default as Record<string, unknown>)[name];
    }
    if (candidate === undefined) throw new TsgiError('TSGI_ERR_APP_KIND', `${file} has no export named "${name}"`);
  } else {
    candidate = mod.default ?? mod.app;
  }
  if (typeof candidate !== 'function') {
    throw new TsgiError('TSGI_ERR_APP_KIND',
      `${spec} exports ${candidate === null ? 'null' : typeof candidate}, not a TSGI app function (req) => reply`);
  }
  return candidate as App;
}
