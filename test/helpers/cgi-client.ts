// A client side for the CGI-style listeners (test/uwsgi, test/scgi): builds
// uwsgi packets and SCGI requests (with the fixture builders of
// cgi-fixtures.ts), sends them over raw sockets, parses the replies, and
// checks that every socket of a server still serves.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { App, Request, ServeOptions, ServerHandle } from 'tsgi';
import { serve } from 'tsgi';
import { inputOf, type Segment } from './cgi-fixtures.js';
import { captureLog, parseResponses, RawConnection, tempDir, type LogCapture } from './index.js';

export type Vars = ReadonlyArray<readonly [string, string]>;

function fixture(input: Segment[]): Buffer {
  return inputOf({ name: 'client', input, expect: { result: 'ok' } });
}

// ---- requests --------------------------------------------------------------

/** A uwsgi packet: 4-byte header, the vars block, then `body`. */
export function uwsgiPacket(vars: Vars, opts: { modifier1?: number; modifier2?: number; datasize?: number;
  body?: string | Buffer } = {}): Buffer {
  const head = fixture([{ uwsgi: {
    vars: vars.map(([k, v]) => [k, v] as [string, string]),
    ...(opts.modifier1 !== undefined ? { modifier1: opts.modifier1 } : {}),
    ...(opts.modifier2 !== undefined ? { modifier2: opts.modifier2 } : {}),
    ...(opts.datasize !== undefined ? { datasize: opts.datasize } : {}),
  } }]);
  return opts.body === undefined ? head : Buffer.concat([head, Buffer.from(opts.body)]);
}

/** An SCGI request: the header netstring (length and end overridable), then `body`. */
export function scgiRequest(vars: Vars, opts: { length?: number; end?: string; body?: string | Buffer } = {}): Buffer {
  const head = fixture([{
    netstring: vars.map(([k, v]) => [k, v] as [string, string]),
    ...(opts.length !== undefined ? { length: opts.length } : {}),
    ...(opts.end !== undefined ? { end: opts.end } : {}),
  }]);
  return opts.body === undefined ? head : Buffer.concat([head, Buffer.from(opts.body)]);
}

/** The variables nginx's stock uwsgi_params would send for `uri`, and CONTENT_LENGTH for `body`. */
export function cgiVars(uri: string, opts: { method?: string; body?: string | Buffer; extra?: Vars } = {}): Array<[string, string]> {
  const q = uri.indexOf('?');
  const bodyLen = opts.body === undefined ? 0 : Buffer.byteLength(opts.body);
  return [
    ['QUERY_STRING', q === -1 ? '' : uri.slice(q + 1)],
    ['REQUEST_METHOD', opts.method ?? (opts.body === undefined ? 'GET' : 'POST')],
    ['CONTENT_TYPE', opts.body === undefined ? '' : 'application/octet-stream'],
    ['CONTENT_LENGTH', opts.body === undefined ? '' : String(bodyLen)],
    ['REQUEST_URI', uri],
    ['PATH_INFO', q === -1 ? uri : uri.slice(0, q)],
    ['DOCUMENT_ROOT', '/usr/share/nginx/html'],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REQUEST_SCHEME', 'http'],
    ['REMOTE_ADDR', '192.0.2.10'],
    ['REMOTE_PORT', '40000'],
    ['SERVER_PORT', '80'],
    ['SERVER_NAME', 'example.test'],
    ['HTTP_HOST', 'example.test'],
    ...(opts.extra ?? []).map(([k, v]) => [k, v] as [string, string]),
  ];
}

/** A well-formed uwsgi request for `uri` (nginx-like vars), with an optional body. */
export function uwsgiRequest(uri: string, opts: { method?: string; body?: string | Buffer; extra?: Vars; modifier1?: number } = {}): Buffer {
  return uwsgiPacket(cgiVars(uri, opts), {
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    ...(opts.modifier1 !== undefined ? { modifier1: opts.modifier1 } : {}),
  });
}

/** A well-formed SCGI request for `uri`: CONTENT_LENGTH first, SCGI=1 second (as nginx sends). */
export function scgiGood(uri: string, opts: { method?: string; body?: string | Buffer; extra?: Vars } = {}): Buffer {
  const vars = cgiVars(uri, opts).filter(([k]) => k !== 'CONTENT_LENGTH');
  const len = opts.body === undefined ? 0 : Buffer.byteLength(opts.body);
  return scgiRequest([['CONTENT_LENGTH', String(len)], ['SCGI', '1'], ...vars],
    opts.body !== undefined ? { body: opts.body } : {});
}

// ---- replies ---------------------------------------------------------------

export type Style = 'uwsgi' | 'scgi';

export interface CgiReply {
  status: number;
  reason: string;
  /** The first line as sent ("HTTP/1.1 200 OK" or "Status: 200 OK"). */
  first: string;
  /** Header fields after the first line, in order, names as sent. */
  headers: Array<[string, string]>;
  head: string;
  /** Everything after the head (the reply is close-delimited; Content-Length, when sent, is checked against it). */
  body: Buffer;
}

/**
 * Parses a complete reply of a uwsgi listener (status line) or an SCGI listener
 * (a Status header, no status line). Strict: throws on anything else.
 */
export function parseCgiReply(data: Buffer, style: Style): CgiReply {
  const end = data.indexOf('\r\n\r\n', 0, 'latin1');
  assert.ok(end > 0, `no complete reply head in ${JSON.stringify(data.toString('latin1', 0, 300))}`);
  const head = data.toString('latin1', 0, end + 4);
  const lines = head.slice(0, -4).split('\r\n');
  const first = lines[0]!;
  const m = style === 'uwsgi'
    ? /^HTTP\/1\.1 (\d{3}) (.+)$/.exec(first)
    : /^Status: (\d{3}) (.+)$/.exec(first);
  assert.ok(m, `bad first line for ${style}: ${JSON.stringify(first)}`);
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    assert.ok(c > 0 && !/\s/.test(line.slice(0, c)), `bad header line ${JSON.stringify(line)}`);
    headers.push([line.slice(0, c), line.slice(c + 1).trim()]);
  }
  const reply: CgiReply = { status: Number(m[1]), reason: m[2]!, first, headers, head, body: data.subarray(end + 4) };
  const cl = values(reply, 'content-length');
  assert.ok(cl.length <= 1, `Content-Length appears ${cl.length} times`);
  if (cl.length === 1) {
    assert.match(cl[0]!, /^\d+$/);
    assert.equal(reply.body.length, Number(cl[0]), 'the body is as long as Content-Length says');
  }
  return reply;
}

/** All values of a header (case-insensitive). */
export function values(reply: { headers: Array<[string, string]> }, name: string): string[] {
  const lower = name.toLowerCase();
  return reply.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/** Fields a CGI-style reply must never carry: the front server frames the reply to its client. */
export const HOP_BY_HOP = ['connection', 'transfer-encoding', 'keep-alive', 'date', 'proxy-connection', 'upgrade',
  'te', 'trailer'];

export function assertNoHopByHop(reply: CgiReply): void {
  for (const name of HOP_BY_HOP) {
    assert.deepEqual(values(reply, name), [], `a ${name} header in ${JSON.stringify(reply.head)}`);
  }
}

// ---- sending ---------------------------------------------------------------

/** Where to connect: a TCP port on 127.0.0.1, { host, port }, or a unix socket path. */
export type Target = number | string | { host: string; port: number };

export function open(target: Target): Promise<RawConnection> {
  if (typeof target === 'object') return RawConnection.open(target.port, target.host);
  return RawConnection.open(target);
}

export interface Exchanged {
  data: Buffer;
  /** The server closed the connection within the time allowed. */
  closed: boolean;
}

/**
 * Sends `data` (pieces written in turn), optionally half-closes, and waits for
 * the server to close the connection (bounded by `timeoutMs`).
 */
export async function exchange(target: Target, data: string | Buffer | Array<string | Buffer>,
  opts: { end?: boolean; timeoutMs?: number } = {}): Promise<Exchanged> {
  const c = await open(target);
  try {
    for (const piece of Array.isArray(data) ? data : [data]) await c.write(piece);
    if (opts.end) c.socket.end();
    const closed = await c.waitClosed(opts.timeoutMs ?? 5000);
    return { data: Buffer.from(c.data), closed };
  } finally {
    c.destroy();
  }
}

/** Sends a request and parses the reply; asserts the server closed the connection after it. */
export async function ask(target: Target, style: Style, data: string | Buffer | Array<string | Buffer>,
  opts: { timeoutMs?: number } = {}): Promise<CgiReply> {
  const r = await exchange(target, data, opts);
  assert.ok(r.closed, `the server did not close the connection; received ${JSON.stringify(r.data.toString('latin1', 0, 300))}`);
  return parseCgiReply(r.data, style);
}

// ---- servers ---------------------------------------------------------------

export const HEALTH = '/__health';

/** An app that counts the requests it got other than the health checks. */
export function countingApp(): { app: (req: Request) => { body: string }; calls: () => number } {
  let n = 0;
  return {
    app: (req) => {
      if (req.PATH_INFO !== HEALTH) n++;
      return { body: 'app' };
    },
    calls: () => n,
  };
}

/** Wraps an app so that every socket can be checked with a request for HEALTH. */
export function withHealth(app: App): App {
  return (req) => {
    if (req.PATH_INFO === HEALTH) return { body: `healthy ${req.tsgi.protocol}` };
    return app(req);
  };
}

export interface Listener {
  protocol: 'http' | 'uwsgi' | 'scgi' | 'fastcgi';
  target: Target;
  label: string;
}

/** Where to connect to each of a server's listeners (0.0.0.0 via 127.0.0.1, :: via ::1). */
export function listenersOf(server: ServerHandle): Listener[] {
  return server.addresses.map((a) => {
    if (a.port !== undefined) {
      const host = a.host === '0.0.0.0' ? '127.0.0.1' : a.host === '::' ? '::1' : a.host!;
      return { protocol: a.protocol, target: { host, port: a.port }, label: `${a.protocol} ${host}:${a.port}` };
    }
    const p = a.address.replace(/^(http|uwsgi|scgi|fastcgi):\/\//, '').replace(/^unix:/, '');
    return { protocol: a.protocol, target: p, label: `${a.protocol} ${p}` };
  });
}

/** The target of the server's first listener of `protocol` (throws when it has none). */
export function targetOf(server: ServerHandle, protocol: string): Target {
  const l = listenersOf(server).find((x) => x.protocol === protocol);
  if (!l) throw new Error(`the server has no ${protocol} listener`);
  return l.target;
}

/** Sends a good request for HEALTH to one listener and checks the reply. */
export async function assertServes(l: Listener): Promise<void> {
  if (l.protocol === 'http') {
    const r = await exchange(l.target, `GET ${HEALTH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const [res] = parseResponses(r.data, { closed: r.closed }).responses;
    assert.ok(res, `${l.label}: no reply`);
    assert.equal(res.status, 200, l.label);
    assert.equal(res.body.toString(), 'healthy http', l.label);
    return;
  }
  // FastCGI listeners are checked by their own tests (test/fastcgi/).
  if (l.protocol === 'fastcgi') return;
  const data = l.protocol === 'uwsgi' ? uwsgiRequest(HEALTH) : scgiGood(HEALTH);
  const reply = await ask(l.target, l.protocol, data);
  assert.equal(reply.status, 200, `${l.label}: ${reply.head}`);
  assert.equal(reply.body.toString(), `healthy ${l.protocol}`, l.label);
}

/** Every socket of the server still serves a good request (all at once, then one after another). */
export async function assertAllServe(server: ServerHandle, opts: { except?: (l: Listener) => boolean } = {}): Promise<void> {
  const all = listenersOf(server).filter((l) => !opts.except?.(l));
  assert.ok(all.length > 0, 'no listener to check');
  await Promise.all(all.map(assertServes));
  for (const l of all) await assertServes(l);
}

export interface Harness {
  server: ServerHandle;
  logs: LogCapture;
  /** The first listener of each protocol. */
  uwsgi: Target;
  scgi: Target;
  dir: string;
}

/**
 * Starts a server (app wrapped with withHealth) on a TCP uwsgi, a TCP SCGI and
 * a unix-socket uwsgi listener unless `listen` is given, runs `fn`, then checks
 * every socket still serves (unless `check` is false) and closes the server.
 */
export async function withServer(app: App, fn: (h: Harness) => Promise<void>,
  options: Omit<ServeOptions, 'log'> & { check?: boolean } = {}): Promise<void> {
  const dir = tempDir('tsgi-cgi-');
  const logs = captureLog();
  const { check, ...rest } = options;
  const server = serve(withHealth(app), {
    listen: ['uwsgi://127.0.0.1:0', 'scgi://127.0.0.1:0', 'uwsgi://' + path.join(dir, 'u.sock'),
      'scgi://' + path.join(dir, 's.sock')],
    ...rest,
    log: logs.log,
  });
  try {
    const ls = listenersOf(server);
    const first = (p: string): Target => ls.find((l) => l.protocol === p)?.target ?? -1;
    await fn({ server, logs, uwsgi: first('uwsgi'), scgi: first('scgi'), dir });
    if (check !== false) await assertAllServe(server);
  } finally {
    await server.close(2000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
