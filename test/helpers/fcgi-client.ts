// A small FastCGI 1.0 client for test/fastcgi/ (and the peer tests): builds
// records (BEGIN_REQUEST, PARAMS and STDIN streams cut wherever a test wants,
// padded or not, GET_VALUES, anything malformed), sends them over raw sockets,
// and reads back the records the application sends: STDOUT per request id,
// END_REQUEST, GET_VALUES_RESULT, UNKNOWN_TYPE. The reader is strict: a record
// with a version other than 1 or a type the application must not send throws.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { App, ServeOptions, ServerHandle } from 'tsgi';
import { serve } from 'tsgi';
import { cgiVars, HEALTH, parseCgiReply, withHealth, type CgiReply, type Target, type Vars } from './cgi-client.js';
import { RawConnection, tempDir, captureLog, type LogCapture } from './index.js';

export const T = {
  BEGIN_REQUEST: 1, ABORT_REQUEST: 2, END_REQUEST: 3, PARAMS: 4, STDIN: 5, STDOUT: 6, STDERR: 7,
  DATA: 8, GET_VALUES: 9, GET_VALUES_RESULT: 10, UNKNOWN_TYPE: 11,
} as const;
export const ROLE = { RESPONDER: 1, AUTHORIZER: 2, FILTER: 3 } as const;
export const PROTOCOL_STATUS = { REQUEST_COMPLETE: 0, CANT_MPX_CONN: 1, OVERLOADED: 2, UNKNOWN_ROLE: 3 } as const;
export const KEEP_CONN = 1;

// ---- building records ----------------------------------------------------------

export type Padding = number | 'pad8';

function paddingFor(len: number, padding: Padding | undefined): number {
  if (padding === undefined) return 0;
  return padding === 'pad8' ? (8 - (len % 8)) % 8 : padding;
}

/** One record: the 8-byte header, the content, the padding (zeros). */
export function record(type: number, id: number, content: Buffer | string = Buffer.alloc(0),
  opts: { padding?: Padding; version?: number } = {}): Buffer {
  const c = typeof content === 'string' ? Buffer.from(content, 'latin1') : content;
  assert.ok(c.length <= 65535, `record content of ${c.length} bytes`);
  const pad = paddingFor(c.length, opts.padding);
  const head = Buffer.from([opts.version ?? 1, type, id >> 8, id & 255, c.length >> 8, c.length & 255, pad, 0]);
  return Buffer.concat([head, c, Buffer.alloc(pad)]);
}

/** BEGIN_REQUEST {role, flags}. */
export function beginRequest(id: number, opts: { role?: number; keepConn?: boolean; padding?: Padding } = {}): Buffer {
  const role = opts.role ?? ROLE.RESPONDER;
  return record(T.BEGIN_REQUEST, id, Buffer.from([role >> 8, role & 255, opts.keepConn ? KEEP_CONN : 0, 0, 0, 0, 0, 0]),
    opts.padding !== undefined ? { padding: opts.padding } : {});
}

function nvLength(n: number): Buffer {
  if (n < 128) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0);
  return b;
}

/** Name-value pairs (spec 3.4), back to back. */
export function pairs(list: Vars): Buffer {
  return Buffer.concat(list.flatMap(([n, v]) => {
    const name = Buffer.from(n, 'latin1');
    const value = Buffer.from(v, 'latin1');
    return [nvLength(name.length), nvLength(value.length), name, value];
  }));
}

export interface StreamOptions {
  /** Offsets in the data to cut records at (records never exceed 65535 bytes regardless). */
  cuts?: readonly number[];
  /** Cut into records of at most this many bytes (default 65535). */
  maxRecord?: number;
  padding?: Padding;
  /** Close the stream with its empty record (default true). */
  end?: boolean;
}

/** A stream's records: the data cut at `cuts` (and every `maxRecord` bytes), then the empty record. */
export function stream(type: number, id: number, data: Buffer | string, opts: StreamOptions = {}): Buffer {
  const d = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const max = Math.min(opts.maxRecord ?? 65535, 65535);
  const out: Buffer[] = [];
  let from = 0;
  const cuts = [...(opts.cuts ?? []).filter((c) => c > 0 && c < d.length), d.length].sort((a, b) => a - b);
  for (const at of cuts) {
    while (from < at) {
      const to = Math.min(at, from + max);
      out.push(record(type, id, d.subarray(from, to), opts.padding !== undefined ? { padding: opts.padding } : {}));
      from = to;
    }
  }
  if (opts.end ?? true) out.push(record(type, id));
  return Buffer.concat(out);
}

export interface RequestOptions {
  role?: number;
  keepConn?: boolean;
  body?: Buffer | string;
  params?: StreamOptions;
  stdin?: StreamOptions;
  /** Padding for every record of the request (overridden by params/stdin's own). */
  padding?: Padding;
  /** Send the empty STDIN record (default true). */
  endStdin?: boolean;
}

/** A whole request: BEGIN_REQUEST, PARAMS, STDIN (the body, if any, then the empty record). */
export function request(id: number, vars: Vars, opts: RequestOptions = {}): Buffer {
  const pad = opts.padding !== undefined ? { padding: opts.padding } : {};
  return Buffer.concat([
    beginRequest(id, { ...(opts.role !== undefined ? { role: opts.role } : {}), keepConn: opts.keepConn ?? false, ...pad }),
    stream(T.PARAMS, id, pairs(vars), { ...pad, ...opts.params }),
    stream(T.STDIN, id, opts.body ?? Buffer.alloc(0), { ...pad, ...opts.stdin, end: opts.endStdin ?? true }),
  ]);
}

/** What nginx's fastcgi_params would send for `uri` (plus PATH_INFO), and CONTENT_LENGTH for `body`. */
export function fcgiVars(uri: string, opts: { method?: string; body?: string | Buffer; extra?: Vars } = {}): Array<[string, string]> {
  return [...cgiVars(uri, opts), ['GATEWAY_INTERFACE', 'CGI/1.1'], ['SCRIPT_NAME', '']];
}

/** GET_VALUES (request id 0) asking for `names`, with empty values. */
export function getValues(names: readonly string[], opts: { padding?: Padding } = {}): Buffer {
  return record(T.GET_VALUES, 0, pairs(names.map((n) => [n, ''] as const)), opts);
}

// ---- reading records -------------------------------------------------------------

export interface FcgiRecord {
  type: number;
  id: number;
  content: Buffer;
  padding: number;
}

const APP_TYPES = new Set<number>([T.END_REQUEST, T.STDOUT, T.STDERR, T.GET_VALUES_RESULT, T.UNKNOWN_TYPE]);

/** Splits received bytes into whole records; `rest` is an incomplete one. Strict. */
export function parseRecords(data: Buffer): { records: FcgiRecord[]; rest: Buffer } {
  const records: FcgiRecord[] = [];
  let at = 0;
  while (data.length - at >= 8) {
    const version = data[at]!;
    const type = data[at + 1]!;
    assert.equal(version, 1, `record at byte ${at} has version ${version}: ` +
      JSON.stringify(data.toString('latin1', at, at + 80)));
    assert.ok(APP_TYPES.has(type), `record at byte ${at} has type ${type}, not one an application sends`);
    const len = data.readUInt16BE(at + 4);
    const padding = data[at + 6]!;
    if (data.length - at < 8 + len + padding) break;
    records.push({ type, id: data.readUInt16BE(at + 2), content: data.subarray(at + 8, at + 8 + len), padding });
    at += 8 + len + padding;
  }
  return { records, rest: data.subarray(at) };
}

export interface EndRequest {
  appStatus: number;
  protocolStatus: number;
}

/** Name-value pairs read back (GET_VALUES_RESULT). */
export function readPairs(content: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let at = 0;
  const len = () => {
    const b = content[at]!;
    if (b < 0x80) { at += 1; return b; }
    const n = content.readUInt32BE(at) & 0x7fffffff;
    at += 4;
    return n;
  };
  while (at < content.length) {
    const n = len();
    const v = len();
    out.push([content.toString('latin1', at, at + n), content.toString('latin1', at + n, at + n + v)]);
    at += n + v;
  }
  assert.equal(at, content.length, 'pairs end with their record');
  return out;
}

/** What one request got back. */
export interface Answer {
  /** The STDOUT stream's content. */
  stdout: Buffer;
  /** STDOUT records with content, and whether the empty one came before END_REQUEST. */
  stdoutRecords: number;
  stdoutEnded: boolean;
  end: EndRequest;
}

/**
 * A client connection that keeps every record received. Records are read
 * per request id; wait for what you expect with the `wait*` methods (bounded).
 */
export class FcgiConnection {
  private parsedUpTo = 0;
  private list: FcgiRecord[] = [];

  private constructor(readonly raw: RawConnection) {}

  static async open(target: Target): Promise<FcgiConnection> {
    const raw = typeof target === 'object' ? await RawConnection.open(target.port, target.host) : await RawConnection.open(target);
    return new FcgiConnection(raw);
  }

  write(data: Buffer | string): Promise<void> {
    return this.raw.write(data);
  }

  get closed(): boolean {
    return this.raw.closed;
  }

  /** Every whole record received so far, in order. */
  records(): FcgiRecord[] {
    const data = this.raw.data;
    if (data.length > this.parsedUpTo) {
      const { records, rest } = parseRecords(data.subarray(this.parsedUpTo));
      // Copy: the connection's buffer is reused as it grows.
      for (const r of records) this.list.push({ ...r, content: Buffer.from(r.content) });
      this.parsedUpTo = data.length - rest.length;
    }
    return this.list;
  }

  /** The END_REQUEST for `id` (the first one), if it came. */
  endOf(id: number): EndRequest | undefined {
    const r = this.records().find((x) => x.type === T.END_REQUEST && x.id === id);
    if (!r) return undefined;
    assert.equal(r.content.length, 8, 'END_REQUEST content is 8 bytes');
    return { appStatus: r.content.readUInt32BE(0), protocolStatus: r.content[4]! };
  }

  /** The STDOUT content for `id` so far. */
  stdoutOf(id: number): Buffer {
    return Buffer.concat(this.records().filter((x) => x.type === T.STDOUT && x.id === id).map((x) => x.content));
  }

  /** Waits (bounded) until `ready()` holds, checked on every arrival. */
  waitUntil(ready: () => boolean, timeoutMs = 5000, what = 'a condition'): Promise<void> {
    return this.raw.waitUntil(ready, timeoutMs, what);
  }

  /** Waits for END_REQUEST on `id` and returns what that request got. */
  async answer(id: number, timeoutMs = 5000): Promise<Answer> {
    await this.waitUntil(() => this.endOf(id) !== undefined || this.closed, timeoutMs, `END_REQUEST for request ${id}`);
    const end = this.endOf(id);
    assert.ok(end, `the connection closed without END_REQUEST for request ${id}; received ` +
      JSON.stringify(this.raw.data.toString('latin1', 0, 400)));
    const recs = this.records();
    const endAt = recs.findIndex((x) => x.type === T.END_REQUEST && x.id === id);
    const mine = recs.slice(0, endAt).filter((x) => x.type === T.STDOUT && x.id === id);
    const data = mine.filter((x) => x.content.length > 0);
    const emptyAt = mine.findIndex((x) => x.content.length === 0);
    if (emptyAt !== -1) assert.equal(emptyAt, mine.length - 1, `STDOUT for request ${id} after its empty record`);
    return {
      stdout: Buffer.concat(data.map((x) => x.content)),
      stdoutRecords: data.length,
      stdoutEnded: emptyAt !== -1,
      end,
    };
  }

  /** Waits for a management record (id 0) of `type`. */
  async management(type: number, timeoutMs = 3000): Promise<FcgiRecord> {
    await this.waitUntil(() => this.records().some((x) => x.id === 0 && x.type === type) || this.closed, timeoutMs,
      `a record of type ${type}`);
    const r = this.records().find((x) => x.id === 0 && x.type === type);
    assert.ok(r, `closed without a record of type ${type}`);
    return r;
  }

  waitClosed(timeoutMs = 3000): Promise<boolean> {
    return this.raw.waitClosed(timeoutMs);
  }

  destroy(): void {
    this.raw.destroy();
  }
}

/**
 * A reply on STDOUT: "Status: NNN reason", headers, blank line, body. With
 * `head` (a reply to HEAD), the body must be empty whatever Content-Length says.
 */
export function parseStdout(stdout: Buffer, opts: { head?: boolean } = {}): CgiReply {
  if (!opts.head) return parseCgiReply(stdout, 'scgi');
  const end = stdout.indexOf('\r\n\r\n', 0, 'latin1');
  assert.ok(end > 0, `no complete reply head in ${JSON.stringify(stdout.toString('latin1', 0, 300))}`);
  assert.equal(end + 4, stdout.length, 'a reply to HEAD has no body');
  const head = stdout.toString('latin1', 0, end + 4);
  const lines = head.slice(0, -4).split('\r\n');
  const m = /^Status: (\d{3}) (.+)$/.exec(lines[0]!);
  assert.ok(m, `bad first line ${JSON.stringify(lines[0])}`);
  const headers = lines.slice(1).map((line): [string, string] => {
    const c = line.indexOf(':');
    assert.ok(c > 0 && !/\s/.test(line.slice(0, c)), `bad header line ${JSON.stringify(line)}`);
    return [line.slice(0, c), line.slice(c + 1).trim()];
  });
  return { status: Number(m[1]), reason: m[2]!, first: lines[0]!, headers, head, body: Buffer.alloc(0) };
}

export interface Asked extends Answer {
  reply: CgiReply;
  /** The server closed the connection after END_REQUEST (within the time allowed). */
  closed: boolean;
}

/**
 * One request on a fresh connection: sends it (in pieces if `pieces`), waits
 * for END_REQUEST, and parses the STDOUT reply. Without keepConn, waits for
 * the server to close the connection too.
 */
export async function ask(target: Target, vars: Vars, opts: RequestOptions & { id?: number; timeoutMs?: number } = {}): Promise<Asked> {
  const c = await FcgiConnection.open(target);
  try {
    const id = opts.id ?? 1;
    await c.write(request(id, vars, opts));
    const a = await c.answer(id, opts.timeoutMs ?? 5000);
    const closed = opts.keepConn ? c.closed : await c.waitClosed(2000);
    const head = vars.some(([k, v]) => k === 'REQUEST_METHOD' && v === 'HEAD');
    return { ...a, reply: parseStdout(a.stdout, { head }), closed };
  } finally {
    c.destroy();
  }
}

// ---- a server on FastCGI listeners ---------------------------------------------

export interface FcgiHarness {
  server: ServerHandle;
  logs: LogCapture;
  /** The TCP listener (127.0.0.1) and the unix-socket one. */
  tcp: { host: string; port: number };
  unix: string;
  dir: string;
}

/** A good request for HEALTH on a fresh connection, answered by withHealth(). */
export async function assertFcgiServes(target: Target, label = String(JSON.stringify(target))): Promise<void> {
  const a = await ask(target, fcgiVars(HEALTH));
  assert.equal(a.reply.status, 200, `${label}: ${a.reply.head}`);
  assert.equal(a.reply.body.toString(), 'healthy fastcgi', label);
  assert.deepEqual(a.end, { appStatus: 0, protocolStatus: PROTOCOL_STATUS.REQUEST_COMPLETE }, label);
}

/**
 * Starts a server (the app wrapped with withHealth) on a FastCGI TCP listener
 * and a FastCGI unix-socket listener, runs `fn`, then checks that both still
 * serve (unless `check` is false) and closes the server.
 */
export async function withFcgiServer(app: App, fn: (h: FcgiHarness) => Promise<void>,
  options: Omit<ServeOptions, 'log'> & { check?: boolean } = {}): Promise<void> {
  const dir = tempDir('tsgi-fcgi-');
  const logs = captureLog();
  const { check, ...rest } = options;
  const unix = path.join(dir, 'f.sock');
  const server = serve(withHealth(app), {
    listen: ['fastcgi://127.0.0.1:0', `fastcgi://${unix}`],
    ...rest,
    log: logs.log,
  });
  try {
    const tcp = { host: '127.0.0.1', port: server.addresses[0]!.port! };
    await fn({ server, logs, tcp, unix, dir });
    if (check !== false) {
      await Promise.all([assertFcgiServes(tcp, 'fastcgi tcp'), assertFcgiServes(unix, 'fastcgi unix')]);
    }
  } finally {
    await server.close(2000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
