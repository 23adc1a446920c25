// The other end of --stats: `tsgi status`, `reload` and `top` read the JSON
// document from the same ADDR the server was given (plain: one document per
// connection; http://: GET /stats). Bounded in time and size: a stats
// address that answers slowly or endlessly is an error, never a hang.
import * as http from 'node:http';
import * as net from 'node:net';
import { parseStatsAddress, type StatsAddress } from './server.js';
import type { StatsDoc } from './render.js';

/** A document larger than this is not a stats document (a few KB per worker). */
const MAX_BYTES = 16 * 1024 * 1024;

function connectOptions(a: StatsAddress): { path: string } | { host: string; port: number } {
  return a.path !== undefined ? { path: a.path } : { host: a.host!, port: a.port! };
}

function parse(raw: string, text: string): StatsDoc {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`--stats ${raw}: the answer is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (typeof doc === 'object' && doc !== null && typeof (doc as { error?: unknown }).error === 'string') {
    throw new Error(`--stats ${raw}: ${(doc as { error: string }).error}`);
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as StatsDoc).workers) || typeof (doc as StatsDoc).pid !== 'number') {
    throw new Error(`--stats ${raw}: the answer is not a tsgi stats document`);
  }
  return doc as StatsDoc;
}

/** The stats document at `raw` (a --stats ADDR); rejects with a message naming the address. */
export function fetchStats(raw: string, timeoutMs = 5_000): Promise<StatsDoc> {
  const addr = parseStatsAddress(raw);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (err: Error): void => reject(new Error(`--stats ${raw}: ${err.message}`));
    const collect = (stream: NodeJS.ReadableStream & { destroy(e?: Error): void }, done: () => void): void => {
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BYTES) stream.destroy(new Error(`more than ${MAX_BYTES} bytes`));
        else chunks.push(c);
      });
      stream.on('end', done);
    };
    const finish = (): void => {
      try {
        resolve(parse(raw, Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err as Error);
      }
    };
    if (addr.http) {
      const req = http.get({ ...connectOptions(addr), path: '/stats', timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          fail(new Error(`HTTP ${res.statusCode} (is the server still starting?)`));
          return;
        }
        collect(res, finish);
        res.on('error', fail);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', fail);
      return;
    }
    const sock = net.connect(connectOptions(addr));
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    collect(sock, finish);
    sock.on('error', fail);
  });
}
