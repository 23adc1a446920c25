// cgiHost(): a TSGI app that runs CGI scripts (RFC 3875), like Apache's
// ScriptAlias or uWSGI's cgi plugin. Being an app, it works behind every
// listener tsgi has (HTTP, uwsgi, SCGI, FastCGI) and under a mount point.
//
// Per request: find the script by walking the path below a mapped prefix to
// the first executable regular file inside the mapped directory (3.3), build
// its environment from the request and nothing of ours but PATH and what the
// operator configured, stream the body to its stdin, and turn its stdout into
// the reply (6): document, local redirect (run again here), client redirect,
// or an NPH script's own status line and fields.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { App, Reply, Request } from '../tsgi/types.js';
import { VERSION } from '../version.js';
import { cgiEnv } from './env.js';
import { headEnd, parseCgiHead, parseNphHead, type Head } from './response.js';
import { RedirectRequest } from './redirect.js';

export interface CgiHostOptions {
  /** URL prefix ("/cgi-bin") → directory of scripts; pairs keep their order. Longest prefix wins. */
  map: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;
  /** Variables every script gets (besides the request's); PATH defaults to the server's own PATH. */
  env?: Readonly<Record<string, string>>;
  /** Milliseconds a script may run before its process group is killed (default 60000; 0: never). */
  timeout?: number;
  /** Scripts running at once at most (default 64); a request beyond gets 503. */
  maxProcs?: number;
  /** Local redirects followed per request at most (default 10). */
  maxRedirects?: number;
  /** Where PATH_TRANSLATED maps PATH_INFO, and DOCUMENT_ROOT (default: the working directory). */
  documentRoot?: string;
  /** Answers paths no prefix covers (default: 404). */
  fallback?: App;
  /** Where script stderr and refusals are logged, a line each (default: tsgi's stderr log). */
  log?: (line: string) => void;
  /** A body without a length (chunked) is buffered up to this to set CONTENT_LENGTH (default 16 MiB; more: 413). */
  maxBufferedBody?: number;
}

interface Mapping { prefix: string; dir: string }

export interface Script {
  /** The mapping it was found under. */
  mapping: Mapping;
  /** Its real path. */
  file: string;
  /** The URL path that named it, below the request's own SCRIPT_NAME. */
  scriptName: string;
  pathInfo: string;
  nph: boolean;
}

const HEAD_MAX = 64 * 1024;

function text(status: number, body: string, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers }, body: body + '\n' };
}

function pairs(map: CgiHostOptions['map']): Array<readonly [string, string]> {
  return Array.isArray(map) ? [...map as ReadonlyArray<readonly [string, string]>] : Object.entries(map);
}

/** The mappings, checked: prefixes are "/" or "/a/b" (no trailing "/"), directories exist. */
function mappings(map: CgiHostOptions['map']): Mapping[] {
  const out: Mapping[] = [];
  for (const [prefix, dir] of pairs(map)) {
    if (!/^\/([^/]+(\/[^/]+)*)?$/.test(prefix) || prefix.split('/').some((s) => s === '.' || s === '..')) {
      throw new Error(`CGI prefix ${JSON.stringify(prefix)} must be "/" or start with "/" and not end with "/", e.g. /cgi-bin`);
    }
    let real: string;
    try {
      real = fs.realpathSync(dir);
    } catch {
      throw new Error(`CGI directory ${dir} (for ${prefix}) does not exist`);
    }
    if (!fs.statSync(real).isDirectory()) throw new Error(`CGI directory ${dir} (for ${prefix}) is not a directory`);
    if (out.some((m) => m.prefix === prefix)) throw new Error(`CGI prefix ${prefix} is mapped twice`);
    out.push({ prefix, dir: real });
  }
  if (out.length === 0) throw new Error('cgiHost needs at least one prefix → directory in map');
  return out.sort((a, b) => b.prefix.length - a.prefix.length);
}

function inside(file: string, dir: string): boolean {
  return file.startsWith(dir.endsWith('/') ? dir : dir + '/');
}

/** Only "#!" scripts and ELF binaries run: never a file a shell would guess at (execvp's ENOEXEC fallback). */
async function runnable(file: string): Promise<boolean> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    return (bytesRead >= 2 && buffer[0] === 0x23 && buffer[1] === 0x21) ||
      (bytesRead === 4 && buffer.readUInt32BE(0) === 0x7f454c46);
  } finally {
    await fh.close();
  }
}

/**
 * RFC 3875 3.3: the script is named by the leading path segments; walk them
 * from the mapped directory to the first executable regular file. Dot
 * segments (decoded: "%2e%2e" too) are refused outright; every step is
 * resolved with realpath and must stay inside the mapped directory, so a
 * symlink may point elsewhere inside it but never out.
 */
export async function locate(mappings: readonly Mapping[], pathInfo: string): Promise<Script | Reply | undefined> {
  const mapping = mappings.find((m) => m.prefix === '/' || pathInfo === m.prefix || pathInfo.startsWith(m.prefix + '/'));
  if (mapping === undefined) return undefined;
  const rest = mapping.prefix === '/' ? pathInfo : pathInfo.slice(mapping.prefix.length);
  if (rest.includes('\0')) return text(400, 'Bad Request');
  const segs = rest === '' ? [] : rest.split('/').slice(1);
  if (segs.some((s) => s === '.' || s === '..')) return text(400, 'Bad Request: dot segments in the path');
  let dir = mapping.dir;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg === '') return text(404, 'Not Found');
    let real: string;
    let st: fs.Stats;
    try {
      real = await fs.promises.realpath(path.join(dir, seg));
      st = await fs.promises.stat(real);
    } catch {
      return text(404, 'Not Found');
    }
    if (!inside(real, mapping.dir)) return text(403, 'Forbidden');
    if (st.isDirectory()) {
      dir = real;
      continue;
    }
    if (!st.isFile()) return text(403, 'Forbidden');
    try {
      await fs.promises.access(real, fs.constants.X_OK);
    } catch {
      return text(403, 'Forbidden');
    }
    if ((st.mode & 0o111) === 0) return text(403, 'Forbidden');  // root passes access(X_OK) for any file
    const base = mapping.prefix === '/' ? '' : mapping.prefix;
    return {
      mapping,
      file: real,
      scriptName: base + '/' + segs.slice(0, i + 1).join('/'),
      pathInfo: i + 1 < segs.length ? '/' + segs.slice(i + 1).join('/') : '',
      nph: seg.startsWith('nph-'),
    };
  }
  return text(403, 'Forbidden');  // a directory: no listings
}

/** Splits a stream into lines for the log; a very long line is cut into pieces. */
function lineLogger(log: (line: string) => void, prefix: string): { push(chunk: Buffer): void; end(): void } {
  let partial = '';
  return {
    push(chunk) {
      partial += chunk.toString('utf8');
      let nl: number;
      while ((nl = partial.indexOf('\n')) !== -1) {
        log(prefix + partial.slice(0, nl).replace(/\r$/, ''));
        partial = partial.slice(nl + 1);
      }
      while (partial.length > 8192) {
        log(prefix + partial.slice(0, 8192));
        partial = partial.slice(8192);
      }
    },
    end() {
      if (partial !== '') log(prefix + partial);
      partial = '';
    },
  };
}

const defaultLog = (line: string): void => { process.stderr.write(`tsgi: ${line}\n`); };

export function cgiHost(options: CgiHostOptions): App {
  const maps = mappings(options.map);
  const log = options.log ?? defaultLog;
  const timeout = options.timeout ?? 60_000;
  const maxProcs = options.maxProcs ?? 64;
  const maxRedirects = options.maxRedirects ?? 10;
  const maxBuffered = options.maxBufferedBody ?? 16 * 1024 * 1024;
  const documentRoot = path.resolve(options.documentRoot ?? process.cwd());
  const base: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...options.env };
  let running = 0;

  async function handle(req: Request, redirects: number): Promise<Reply> {
    const found = await locate(maps, req.PATH_INFO);
    if (found === undefined) return options.fallback ? options.fallback(req) : text(404, 'Not Found');
    if (!('file' in found)) {
      if (found.status === 403) log(`cgi: refused ${req.REQUEST_METHOD} ${req.REQUEST_URI}: not an executable file inside the mapped directory`);
      return found;
    }
    if (!(await runnable(found.file))) {
      log(`cgi: ${found.file} is neither a "#!" script nor an ELF binary; not run`);
      return text(500, 'Internal Server Error');
    }
    if (running >= maxProcs) {
      log(`cgi: ${running} scripts running (--cgi-max-procs ${maxProcs}): 503 for ${req.REQUEST_METHOD} ${req.REQUEST_URI}`);
      return text(503, 'Service Unavailable', { 'Retry-After': '1' });
    }
    let body: Uint8Array | undefined;
    let length = req.CONTENT_LENGTH;
    if (length === '' && !req.body.done) {
      // 4.2: no transfer-codings reach a script; it gets CONTENT_LENGTH.
      try {
        body = await req.body.bytes(maxBuffered);
      } catch (err) {
        return text(413, 'Content Too Large');
      }
      length = String(body.byteLength);
    }
    const env = cgiEnv(req, found, { base, documentRoot, contentLength: length, software: `tsgi/${VERSION}` });
    return runScript(req, found, env, body, redirects);
  }

  function runScript(req: Request, script: Script, env: Record<string, string>, buffered: Uint8Array | undefined,
    redirects: number): Promise<Reply> {
    const name = script.scriptName;
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(script.file, [], { cwd: path.dirname(script.file), env, detached: true, stdio: 'pipe' });
    } catch (err) {
      log(`cgi ${name}: cannot run ${script.file}: ${(err as Error).message}`);
      return Promise.resolve(text(502, 'Bad Gateway'));
    }
    running++;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let spawnError: Error | undefined;
    let timedOut = false;
    let killed = false;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => { exit = { code, signal }; resolve(); });
      child.once('error', (err) => { spawnError = err; resolve(); });
    });
    const killGroup = () => {
      if (killed || child.pid === undefined) return;
      killed = true;
      // detached: the script leads its own process group; -pid reaches its children too.
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    };
    const timer = timeout > 0 ? setTimeout(() => {
      timedOut = true;
      log(`cgi ${name}: still running after ${timeout} ms; killed its process group`);
      killGroup();
    }, timeout) : undefined;
    const onAbort = () => killGroup();
    req.signal.addEventListener('abort', onAbort, { once: true });
    void exited.then(() => {
      // The slot is the script's own process: children it left behind in its
      // group are not counted once it exits (as with Apache's mod_cgi).
      running--;
    });
    // The timer stops only once its output is closed too: a child left in the
    // background holding stdout would otherwise keep the reply open forever.
    child.once('close', () => { if (timer !== undefined) clearTimeout(timer); });

    const stderr = lineLogger(log, `cgi ${name}: `);
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.stderr.on('end', () => stderr.end());
    child.stdin.on('error', () => { /* EPIPE: the script did not read its whole body */ });
    void feed(req, child, buffered);

    const why = (): string => spawnError ? `could not start: ${spawnError.message}`
      : exit?.signal ? `killed by ${exit.signal}` : exit ? `exited with status ${exit.code}` : 'closed its output';

    return (async (): Promise<Reply> => {
      const out = child.stdout[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      let acc: Buffer = Buffer.alloc(0);
      let end = -1;
      for (;;) {
        const r = await out.next();
        if (r.done) break;
        acc = acc.byteLength === 0 ? r.value : Buffer.concat([acc, r.value]);
        end = headEnd(acc);
        if (end !== -1 || acc.byteLength > HEAD_MAX) break;
      }
      const finish = () => {
        req.signal.removeEventListener('abort', onAbort);
      };
      if (end === -1) {
        finish();
        if (acc.byteLength > HEAD_MAX) {
          killGroup();
          log(`cgi ${name}: malformed header block (over ${HEAD_MAX} bytes without a blank line): 502`);
          return text(502, 'Bad Gateway');
        }
        await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
        if (timedOut) return text(504, 'Gateway Timeout');
        if (req.signal.aborted) return text(502, 'Bad Gateway');
        log(acc.byteLength === 0 ? `cgi ${name}: ${why()} before any output: 502`
          : `cgi ${name}: malformed header block (output ended without a blank line; ${why()}): 502`);
        return text(502, 'Bad Gateway');
      }
      const headText = acc.toString('latin1', 0, end);
      const rest = acc.subarray(end);
      const head: Head | string = script.nph ? parseNphHead(headText) : parseCgiHead(headText);
      if (typeof head === 'string') {
        finish();
        killGroup();
        log(`cgi ${name}: malformed header block (${head}): 502`);
        return text(502, 'Bad Gateway');
      }
      if (!script.nph && head.location?.startsWith('/') && (head.status === undefined || head.status === 200)) {
        // 6.2.2 local redirect: the script's output is read to its end and
        // dropped (6.4), and the new path served here as a GET.
        void drain(out).finally(finish);
        if (redirects >= maxRedirects) {
          log(`cgi ${name}: more than ${maxRedirects} local redirects (last to ${head.location}): 500`);
          return text(500, 'Internal Server Error');
        }
        const next = RedirectRequest.to(req, head.location);
        if (next === undefined) return text(404, 'Not Found');
        return handle(next, redirects + 1);
      }
      const status = head.status ?? (head.location !== undefined ? 302 : 200);
      return { status, headers: head.fields, body: relay(rest, out, finish) };
    })();

    async function* relay(first: Buffer, out: AsyncIterator<Buffer>, finish: () => void): AsyncGenerator<Uint8Array> {
      let complete = false;
      try {
        if (first.byteLength > 0) yield first;
        for (;;) {
          const r = await out.next();
          if (r.done) break;
          yield r.value;
        }
        complete = true;
        if (timedOut) throw new Error(`CGI script ${name} timed out during its output`);
        await exited;
        if (exit?.code !== 0 && exit !== undefined) log(`cgi ${name}: ${why()} after its output`);
      } finally {
        finish();
        // The client left or the reply failed: the script's output has no reader.
        if (!complete) {
          killGroup();
          void out.return?.();
        }
      }
    }
  }

  return (req: Request) => handle(req, 0);
}

/** The request body to the script's stdin, with backpressure, then EOF. */
async function feed(req: Request, child: ChildProcessWithoutNullStreams, buffered: Uint8Array | undefined): Promise<void> {
  const stdin = child.stdin;
  let closed = false;
  stdin.once('close', () => { closed = true; });
  const write = (chunk: Uint8Array): Promise<void> | undefined => {
    if (stdin.write(chunk)) return undefined;
    return new Promise((resolve) => {
      const done = () => { stdin.off('drain', done); stdin.off('close', done); resolve(); };
      stdin.on('drain', done);
      stdin.on('close', done);
    });
  };
  try {
    if (buffered !== undefined) {
      if (buffered.byteLength > 0) await write(buffered);
    } else if (!req.body.done && req.CONTENT_LENGTH !== '' && req.CONTENT_LENGTH !== '0') {
      for await (const chunk of req.body) {
        if (closed) break;
        const wait = write(chunk);
        if (wait !== undefined) await wait;
        if (closed) break;
      }
    }
  } catch {
    // The client's body failed (it left): the script sees its stdin end early.
  } finally {
    if (!closed) stdin.end();
  }
}

async function drain(out: AsyncIterator<Buffer>): Promise<void> {
  for (;;) {
    const r = await out.next();
    if (r.done) return;
  }
}
