// Shared by the tests: where the repo is, temp dirs, raw sockets, peers.
// Tests import the package by its own name ('tsgi', 'tsgi/native'), so they
// run against the built dist/ exactly as users do.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';

function findRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'binding.gyp'))) return d;
    if (path.dirname(d) === d) throw new Error('repo root not found from ' + dir);
  }
}

export const ROOT = findRoot(__dirname);

export function tempDir(prefix = 'tsgi-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Sends bytes, reads until the server closes or `timeoutMs` passes. */
export function rawRequest(target: number | string, data: string | Buffer,
  opts: { timeoutMs?: number; host?: string } = {}): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = typeof target === 'number'
      ? net.connect(target, opts.host ?? '127.0.0.1')
      : net.connect(target);
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 2000);
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') finish(true);
      else if (!settled) { settled = true; clearTimeout(timer); reject(err); }
    });
    sock.write(data);
  });
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether a program is on PATH. */
export function have(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

/**
 * For tests that need an outside program: in CI it must be there (the test
 * fails loudly); elsewhere the test is skipped with the package to install.
 */
export function requirePeer(t: { skip(msg?: string): void }, program: string, debianPackage: string): boolean {
  if (have(program)) return true;
  if (process.env.CI) throw new Error(`${program} is required in CI (apt-get install ${debianPackage})`);
  t.skip(`${program} not found: apt-get install ${debianPackage}`);
  return false;
}

// ---- HTTP/1.1 over raw sockets (test/http/) --------------------------------

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One response as it came off the wire. */
export interface RawResponse {
  version: string;
  status: number;
  reason: string;
  /** Header fields in order, names as sent. */
  headers: Array<[string, string]>;
  /** The body after de-chunking (raw bytes for Content-Length and close-delimited). */
  body: Buffer;
  /** How the body was framed. */
  framing: 'none' | 'length' | 'chunked' | 'close';
  /** The head (status line and fields, through the blank line) as text. */
  head: string;
}

/** All values of a header (case-insensitive), in order. */
export function headerValues(res: RawResponse, name: string): string[] {
  const lower = name.toLowerCase();
  return res.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/** The one value of a header, or undefined; throws if it appears twice. */
export function header(res: RawResponse, name: string): string | undefined {
  const v = headerValues(res, name);
  if (v.length > 1) throw new Error(`header ${name} appears ${v.length} times`);
  return v[0];
}

export interface ParseOptions {
  /** Which requests were HEAD, by index among final (non-1xx) responses, or all. */
  head?: boolean | readonly boolean[];
  /** The peer closed: a close-delimited body ends at the end of `data`. */
  closed?: boolean;
}

/**
 * Splits bytes received from a server into complete responses (interim 1xx
 * responses included, as their own entries). Strict: a malformed response
 * throws. Returns the responses and the bytes of any incomplete one.
 */
export function parseResponses(data: Buffer, opts: ParseOptions = {}): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let pos = 0;
  let finals = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', pos, 'latin1');
    if (end === -1) break;
    const head = data.toString('latin1', pos, end + 4);
    const lines = head.slice(0, -4).split('\r\n');
    const m = /^(HTTP\/1\.[01]) (\d{3}) (.*)$/.exec(lines[0]!);
    if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])} at byte ${pos}`);
    const headers: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      const c = line.indexOf(':');
      if (c <= 0 || /[\s]/.test(line.slice(0, c))) throw new Error(`bad header line ${JSON.stringify(line)}`);
      headers.push([line.slice(0, c), line.slice(c + 1).trim()]);
    }
    const res: RawResponse = {
      version: m[1]!, status: Number(m[2]), reason: m[3]!, headers, body: Buffer.alloc(0), framing: 'none', head,
    };
    let at = end + 4;
    if (res.status < 200) {
      responses.push(res);
      pos = at;
      continue;
    }
    const isHead = typeof opts.head === 'boolean' ? opts.head : (opts.head?.[finals] ?? false);
    const te = headerValues(res, 'transfer-encoding');
    const cl = headerValues(res, 'content-length');
    if (isHead || res.status === 204 || res.status === 304) {
      res.framing = 'none';
    } else if (te.length > 0) {
      if (te.join(',').trim().toLowerCase() !== 'chunked') throw new Error(`unexpected Transfer-Encoding ${te}`);
      res.framing = 'chunked';
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', at, 'latin1');
        if (lineEnd === -1) break;
        const sizeText = data.toString('latin1', at, lineEnd);
        if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new Error(`bad chunk size line ${JSON.stringify(sizeText)}`);
        const size = parseInt(sizeText, 16);
        if (size === 0) {
          // No trailers from this server: the last chunk is "0\r\n\r\n".
          if (data.length < lineEnd + 4) break;
          if (data.toString('latin1', lineEnd, lineEnd + 4) !== '\r\n\r\n') throw new Error('trailers or bad last chunk');
          at = lineEnd + 4;
          complete = true;
          break;
        }
        if (data.length < lineEnd + 2 + size + 2) break;
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        if (data.toString('latin1', lineEnd + 2 + size, lineEnd + 4 + size) !== '\r\n') throw new Error('chunk not followed by CRLF');
        at = lineEnd + 4 + size;
      }
      if (!complete) break;
      res.body = Buffer.concat(parts);
    } else if (cl.length > 0) {
      if (cl.length > 1 || !/^\d+$/.test(cl[0]!)) throw new Error(`bad Content-Length ${cl}`);
      const n = Number(cl[0]);
      if (data.length < at + n) break;
      res.framing = 'length';
      res.body = data.subarray(at, at + n);
      at += n;
    } else {
      if (!opts.closed) break;
      res.framing = 'close';
      res.body = data.subarray(at);
      at = data.length;
    }
    responses.push(res);
    finals++;
    pos = at;
  }
  return { responses, rest: data.subarray(pos) };
}

/**
 * A client socket that keeps everything it receives, for tests that drive the
 * server byte by byte. Wait for what you expect with the `wait*` methods; each
 * is bounded in time and rejects with what arrived so far.
 */
export class RawConnection {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(16 * 1024);
  private total = 0;
  private waiters = new Set<() => void>();
  /** The server closed (FIN or RST) or the socket failed. */
  closed = false;
  /** A socket error other than a reset, if any. */
  error: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => {
      if (this.total + c.length > this.buf.length) {
        const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.total + c.length));
        this.buf.copy(bigger, 0, 0, this.total);
        this.buf = bigger;
      }
      c.copy(this.buf, this.total);
      this.total += c.length;
      this.wake();
    });
    const onClose = () => {
      this.closed = true;
      this.wake();
    };
    socket.on('end', onClose);
    socket.on('close', onClose);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') this.error = err;
      onClose();
    });
  }

  /** Connects to a TCP port on 127.0.0.1 (or `host`), or to a unix socket path. */
  static open(target: number | string, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const sock = typeof target === 'number' ? net.connect(target, host) : net.connect({ path: target });
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(new RawConnection(sock));
      });
    });
  }

  /** Everything received so far. */
  get data(): Buffer {
    return this.buf.subarray(0, this.total);
  }

  get received(): number {
    return this.total;
  }

  /** Writes and resolves once the bytes are handed to the kernel. */
  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when `ready()` holds (checked on every event), rejects after `timeoutMs`. */
  waitUntil(ready: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!ready()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; closed=${this.closed}; ` +
          `received ${this.total} bytes: ${JSON.stringify(this.data.toString('latin1', 0, 600))}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Waits for `count` final responses (1xx are returned too but not counted). */
  async responses(count: number, opts: ParseOptions & { timeoutMs?: number } = {}): Promise<RawResponse[]> {
    let got: RawResponse[] = [];
    const finals = () => got.filter((r) => r.status >= 200).length;
    await this.waitUntil(() => {
      got = parseResponses(this.data, { ...opts, closed: this.closed }).responses;
      return finals() >= count || this.closed;
    }, opts.timeoutMs ?? 5000, `${count} responses`);
    if (finals() < count) {
      throw new Error(`connection closed after ${finals()} of ${count} responses; received: ` +
        JSON.stringify(this.data.toString('latin1', 0, 600)));
    }
    return got;
  }

  /** Waits for the server to close the connection; false if it did not within `timeoutMs`. */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    try {
      await this.waitUntil(() => this.closed, timeoutMs, 'close');
      return true;
    } catch {
      return false;
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Polls `get()` every 5 ms until it returns something other than undefined; rejects after `ms`. */
export async function eventually<T>(get: () => T | undefined, ms = 3000, what = 'a condition'): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

/** Resolves when `cond()` holds, polling every 5 ms; rejects after `ms`. */
export async function until(cond: () => boolean, ms = 3000, what = 'a condition'): Promise<void> {
  await eventually(() => (cond() ? true : undefined), ms, what);
}

/** One GET on a new connection ("Connection: close"): the status, the head and the body (de-chunked). */
export async function httpGet(target: number | string, p = '/', opts: { host?: string; timeoutMs?: number } = {}): Promise<{ status: number; head: string; body: string }> {
  const res = await rawRequest(target, `GET ${p} HTTP/1.1\r\nHost: ${opts.host ?? 't'}\r\nConnection: close\r\n\r\n`,
    { timeoutMs: opts.timeoutMs ?? 5_000 });
  const text = res.data.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  if (split <= 0) throw new Error(`no complete response head: ${JSON.stringify(text.slice(0, 200))}`);
  const head = text.slice(0, split);
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(head);
  if (!status) throw new Error(`bad status line: ${head.split('\r\n')[0]}`);
  let body = text.slice(split + 4);
  if (/\r\ntransfer-encoding: chunked/i.test(head)) body = dechunk(body);
  return { status: Number(status[1]), head, body };
}

function dechunk(s: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = s.indexOf('\r\n', at);
    if (eol === -1) return out;
    const size = parseInt(s.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += s.slice(eol + 2, eol + 2 + size);
    at = eol + 4 + size;
  }
}

/** Resolves with the value, or rejects after `ms` (so a test never hangs on an app that was never called). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]);
}

/** A promise with its resolve function outside. */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

// ---- log lines ------------------------------------------------------------------

export interface LogCapture {
  lines: string[];
  log: (line: string) => void;
  /** Waits (bounded) for a line matching `re`, returns it. */
  wait(re: RegExp, ms?: number): Promise<string>;
}

export function captureLog(): LogCapture {
  const lines: string[] = [];
  return {
    lines,
    log: (line) => { lines.push(line); },
    async wait(re, ms = 2000) {
      const start = Date.now();
      for (;;) {
        const hit = lines.find((l) => re.test(l));
        if (hit !== undefined) return hit;
        if (Date.now() - start > ms) {
          throw new Error(`no log line matching ${re} within ${ms} ms; lines:\n${lines.join('\n')}`);
        }
        await delay(5);
      }
    },
  };
}

// ---- test data ------------------------------------------------------------------

/** Bytes that differ from their neighbours, so that a misplaced piece shows. */
export function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8) + seed) & 0xff;
  return b;
}

/** A small deterministic generator (xorshift32) of numbers in [0, 1), so a failure repeats. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** SHA-256 of the bytes, in hex. */
export const digest = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A client that sends `GET /` to 127.0.0.1:`port` and reads nothing: the reply waits in the server. */
export function stalledGet(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.pause();
      s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n', () => resolve(s));
    });
    s.once('error', reject);
  });
}
