// For the --threads tests of the access log and the stats: an app that names
// the thread serving each request, a start helper for a single threaded
// tsgi, and traffic spread over several connections so every thread serves.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers/index.js';
import { TsgiProcess } from '../helpers/tsgi-process.js';

export const dir = tempDir('tsgi-threads-');
export const OK_BODY = 'ok\n';

/**
 * Replies OK_BODY with the serving thread in `x-thread`, after 1 ms of work
 * (a busy thread leaves the next accept to another); /boom throws (500);
 * /hold waits 1.5 s.
 */
export const APP = path.join(dir, 'thread-app.js');
fs.writeFileSync(APP, `
const { threadId } = require('node:worker_threads');
module.exports = async (req) => {
  if (req.PATH_INFO === '/boom') throw new Error('boom (expected by the test)');
  if (req.PATH_INFO === '/hold') await new Promise((r) => setTimeout(r, 1500));
  const end = Date.now() + 1;
  while (Date.now() < end);
  return { headers: { 'content-type': 'text/plain', 'x-thread': String(threadId) }, body: ${JSON.stringify(OK_BODY)} };
};
`);

/** A single tsgi with --threads 2, ready once its "serving ... (2 threads)" line is out. */
export async function startThreaded(args: string[]): Promise<TsgiProcess> {
  const p = await TsgiProcess.start(['--http', '127.0.0.1:0', '--threads', '2', ...args, APP]);
  try {
    assert.match(p.log(), /^tsgi: serving .* on http:\/\/127\.0\.0\.1:(\d+) \(2 threads\)$/m);
  } catch (err) {
    await p.stop();
    throw err;
  }
  return p;
}

/**
 * `clients` concurrent clients send `each` requests apiece to `uri(client, i)`;
 * odd clients keep their connection alive, even ones open one per request.
 * Returns each URI's serving thread (from x-thread); every reply must be 200.
 */
export async function spread(port: number, clients: number, each: number,
  uri: (client: number, i: number) => string): Promise<Map<string, string>> {
  const served = new Map<string, string>();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; i < each; i++) {
      const u = uri(c, i);
      const res = await fetch(`http://127.0.0.1:${port}${u}`, c % 2 === 0 ? { headers: { connection: 'close' } } : {});
      assert.equal(res.status, 200, u);
      assert.equal(await res.text(), OK_BODY);
      served.set(u, res.headers.get('x-thread') ?? '?');
    }
  }));
  return served;
}

/** The distinct serving threads of a `spread` result. */
export function threadsOf(served: Map<string, string>): string[] {
  return [...new Set(served.values())].sort();
}
