// `node --import tsgi/register app.js` (or --require for CommonJS): node:http's
// createServer() makes tsgi's server from then on, so an app that calls
// http.createServer(app).listen(port) — Express's and Koa's app.listen() do —
// runs on tsgi unchanged. Only createServer is replaced: `http.Server` stays
// node's class, so `instanceof http.Server` and subclasses keep working.
//
// TSGI_HTTP_OPTIONS, JSON, gives every server defaults under the app's own
// options, e.g. {"keepAliveTimeout": 65000, "tsgi": {"maxBodySize": 1e9}}.
import { syncBuiltinESMExports } from 'node:module';
import { createServer, type RequestListener, type ServerOptions } from './http/index.js';

function defaults(): ServerOptions {
  const text = process.env.TSGI_HTTP_OPTIONS;
  if (text === undefined || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`tsgi/register: TSGI_HTTP_OPTIONS is not JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('tsgi/register: TSGI_HTTP_OPTIONS must be a JSON object');
  }
  return parsed as ServerOptions;
}

const base = defaults();

function tsgiCreateServer(options?: ServerOptions | RequestListener, listener?: RequestListener): ReturnType<typeof createServer> {
  if (typeof options === 'function') {
    listener = options;
    options = undefined;
  }
  const merged: ServerOptions = { ...base, ...options, tsgi: { ...base.tsgi, ...options?.tsgi } };
  return createServer(merged, listener);
}

// The module object itself (an `import * as` namespace would be a frozen copy).
const http = require('node:http') as typeof import('node:http');
Object.defineProperty(http, 'createServer', { value: tsgiCreateServer, writable: true, configurable: true, enumerable: true });
// `import { createServer } from 'node:http'` reads the ESM view, which is a copy until synced.
syncBuiltinESMExports();
