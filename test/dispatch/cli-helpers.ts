// Running `node bin/tsgi` for the dispatch tests: start and wait for its
// "serving" line, run to completion, stop with SIGTERM, GET over HTTP.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT, rawRequest } from '../helpers/index.js';

export const BIN = path.join(ROOT, 'bin', 'tsgi');
/** The fixture modules live beside the sources (plain .js/.cjs/.mjs, not compiled). */
export const FIX = path.join(ROOT, 'test', 'dispatch', 'fixtures');

export interface Exit { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export interface Running {
  child: ChildProcess;
  /** The TCP port of the first "serving ... on http://HOST:PORT" line. */
  port: number;
  stderr: () => string;
  exited: Promise<Exit>;
}

/** Starts tsgi; resolves once it printed `listeners` "serving" lines, or rejects if it exits first. */
export function start(args: string[], listeners: number, timeoutMs = 10_000): Promise<Running> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  child.stderr!.setEncoding('utf8');
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tsgi did not start within ${timeoutMs} ms; stderr:\n${err}`));
    }, timeoutMs);
    child.stderr!.on('data', (c: string) => {
      err += c;
      const where = [...err.matchAll(/^tsgi: serving .* on (\S+)$/gm)].map((m) => m[1]!);
      if (where.length === listeners) {
        clearTimeout(timer);
        const m = /:(\d+)$/.exec(where[0]!);
        resolve({ child, port: m ? Number(m[1]) : -1, stderr: () => err, exited });
      }
    });
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`tsgi exited (${e.code ?? e.signal}) before serving; stderr:\n${e.stderr}`));
    });
  });
}

/** Runs tsgi to completion (bounded: SIGKILL after timeoutMs). */
export async function run(args: string[], timeoutMs = 10_000): Promise<Exit> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.on('close', (c, s) => resolve([c, s]));
  });
  clearTimeout(timer);
  assert.notEqual(signal, 'SIGKILL', `tsgi ${args.join(' ')} did not exit within ${timeoutMs} ms (it started serving?)`);
  return { code, signal, stdout: out, stderr: err };
}

/** SIGTERM, then the exit (bounded). */
export async function stop(r: Running, timeoutMs = 5_000): Promise<Exit> {
  r.child.kill('SIGTERM');
  const timer = setTimeout(() => r.child.kill('SIGKILL'), timeoutMs);
  const e = await r.exited;
  clearTimeout(timer);
  assert.notEqual(e.signal, 'SIGKILL', `tsgi did not exit within ${timeoutMs} ms`);
  return e;
}

export function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, /^tsgi: /);
  return lines[0]!;
}

export interface Got { status: number; head: string; body: string }

export async function get(port: number, p: string, host = 't'): Promise<Got> {
  const res = await rawRequest(port, `GET ${p} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, { timeoutMs: 5_000 });
  const text = res.data.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  assert.ok(split > 0, `no complete response head: ${JSON.stringify(text.slice(0, 200))}`);
  const head = text.slice(0, split);
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(head);
  assert.ok(status, `bad status line: ${head.split('\r\n')[0]}`);
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
