// One request, sent over any of tsgi's front protocols, and its reply read back
// in one shape: the conformance suite states a rule once and checks it over
// HTTP/1.1, uwsgi, SCGI and FastCGI. Each request uses its own connection,
// which the server closes after the reply (HTTP asks for that with
// Connection: close; the other three close by protocol or without KEEP_CONN).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { serve, type App, type ServerHandle } from 'tsgi';
import { exchange, targetOf, scgiRequest, uwsgiPacket, type Target } from '../helpers/cgi-client.js';
import { FcgiConnection, request as fcgiRequest } from '../helpers/fcgi-client.js';
import { parseResponses, tempDir, captureLog, type LogCapture } from '../helpers/index.js';

export const PROTOCOLS = ['http', 'uwsgi', 'scgi', 'fastcgi'] as const;
export type Protocol = typeof PROTOCOLS[number];

export interface Ask {
  method?: string;
  /** The request-target, e.g. "/a%20b?x=1". */
  uri: string;
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: string | Buffer;
}

export interface Answer {
  status: number;
  /** Fields after the status (line), names as sent. */
  headers: Array<[string, string]>;
  body: Buffer;
  /** The head as text, for failure messages. */
  head: string;
}

export function get(a: Answer, name: string): string[] {
  const lower = name.toLowerCase();
  return a.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/** The CGI variables a web server would send for the request (as nginx's *_params do). */
function cgiVars(r: Ask): Array<[string, string]> {
  const q = r.uri.indexOf('?');
  const rawPath = q === -1 ? r.uri : r.uri.slice(0, q);
  const body = r.body === undefined ? undefined : Buffer.from(r.body);
  const vars: Array<[string, string]> = [
    ['REQUEST_METHOD', r.method ?? 'GET'],
    ['REQUEST_URI', r.uri],
    ['QUERY_STRING', q === -1 ? '' : r.uri.slice(q + 1)],
    ['PATH_INFO', Buffer.from(decodeURIComponent(rawPath), 'utf8').toString('latin1')],
    ['SCRIPT_NAME', ''],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['SERVER_NAME', 'conformance.test'],
    ['SERVER_PORT', '80'],
    ['REMOTE_ADDR', '192.0.2.1'],
    ['REMOTE_PORT', '50000'],
    ['CONTENT_LENGTH', body ? String(body.length) : ''],
    ['CONTENT_TYPE', r.headers?.find(([n]) => n.toLowerCase() === 'content-type')?.[1] ?? ''],
    ['HTTP_HOST', 'conformance.test'],
  ];
  for (const [n, v] of r.headers ?? []) {
    if (n.toLowerCase() === 'content-type' || n.toLowerCase() === 'content-length') continue;
    vars.push([`HTTP_${n.toUpperCase().replace(/-/g, '_')}`, v]);
  }
  return vars;
}

function parseCgi(data: Buffer, statusLine: boolean): Answer {
  const end = data.indexOf('\r\n\r\n', 0, 'latin1');
  assert.ok(end > 0, `no complete reply head in ${JSON.stringify(data.toString('latin1', 0, 300))}`);
  const head = data.toString('latin1', 0, end + 4);
  const lines = head.slice(0, -4).split('\r\n');
  const m = statusLine ? /^HTTP\/1\.1 (\d{3}) .+$/.exec(lines[0]!) : /^Status: (\d{3}) .+$/.exec(lines[0]!);
  assert.ok(m, `bad first line ${JSON.stringify(lines[0])}`);
  const headers = lines.slice(1).map((line): [string, string] => {
    const c = line.indexOf(':');
    assert.ok(c > 0 && !/\s/.test(line.slice(0, c)), `bad header line ${JSON.stringify(line)}`);
    return [line.slice(0, c), line.slice(c + 1).trim()];
  });
  return { status: Number(m[1]), headers, body: data.subarray(end + 4), head };
}

/** Sends `r` over `protocol` to `target` and returns the reply. */
export async function send(protocol: Protocol, target: Target, r: Ask): Promise<Answer> {
  const method = r.method ?? 'GET';
  if (protocol === 'http') {
    const fields = (r.headers ?? []).map(([n, v]) => `${n}: ${v}\r\n`).join('');
    const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
    const head = `${method} ${r.uri} HTTP/1.1\r\nHost: conformance.test\r\n${fields}` +
      (r.body !== undefined ? `Content-Length: ${body.length}\r\n` : '') + 'Connection: close\r\n\r\n';
    const x = await exchange(target, [head, body]);
    const { responses } = parseResponses(x.data, { closed: x.closed, head: method === 'HEAD' });
    const res = responses.find((s) => s.status >= 200);
    assert.ok(res, `no reply: ${JSON.stringify(x.data.toString('latin1', 0, 300))}`);
    return { status: res.status, headers: res.headers, body: res.body, head: res.head };
  }
  const vars = cgiVars(r);
  if (protocol === 'uwsgi' || protocol === 'scgi') {
    const packet = protocol === 'uwsgi'
      ? uwsgiPacket(vars, r.body !== undefined ? { body: r.body } : {})
      : scgiRequest([['CONTENT_LENGTH', String(r.body === undefined ? 0 : Buffer.byteLength(r.body))], ['SCGI', '1'],
        ...vars.filter(([k]) => k !== 'CONTENT_LENGTH')], r.body !== undefined ? { body: r.body } : {});
    const x = await exchange(target, packet);
    assert.ok(x.closed, 'the server closes the connection after the reply');
    return parseCgi(x.data, protocol === 'uwsgi');
  }
  const c = await FcgiConnection.open(target);
  try {
    await c.write(fcgiRequest(1, vars, r.body !== undefined ? { body: r.body } : {}));
    const a = await c.answer(1);
    return parseCgi(a.stdout, false);
  } finally {
    c.destroy();
  }
}

export interface Suite {
  server: ServerHandle;
  logs: LogCapture;
  target: Record<Protocol, Target>;
}

/** Serves `app` on one listener of each protocol (TCP, and unix for SCGI), runs fn, closes. */
export async function withEvery(app: App, fn: (s: Suite) => Promise<void>): Promise<void> {
  const dir = tempDir('tsgi-conf-');
  const logs = captureLog();
  const server = serve(app, {
    listen: ['127.0.0.1:0', 'uwsgi://127.0.0.1:0', `scgi://${path.join(dir, 's.sock')}`, 'fastcgi://127.0.0.1:0'],
    log: logs.log,
  });
  try {
    const at = (p: Protocol) => targetOf(server, p);
    await fn({ server, logs, target: { http: at('http'), uwsgi: at('uwsgi'), scgi: at('scgi'), fastcgi: at('fastcgi') } });
  } finally {
    await server.close(2000);
  }
}
