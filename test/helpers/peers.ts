// Real front servers for test/peers/: nginx and Apache httpd started on free
// ports in a temp dir with a config generated from the snippets in
// docs/deploy.md, stopped by their own PID; a tsgi backend listening on uwsgi
// and SCGI, unix and TCP; the app the peers talk to; and the checks every
// route (one peer, one protocol, one transport) goes through.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { dispatch, serve, type ServerHandle } from 'tsgi';
import type { App, HeaderList, Reply as TsgiReply, Request } from 'tsgi';
import { delay, have, requirePeer, ROOT, tempDir, until } from './index.js';
import { TsgiProcess } from './tsgi-process.js';

// ---- the snippets of docs/deploy.md ------------------------------------------

export const DEPLOY_DOC = path.join(ROOT, 'docs', 'deploy.md');

/** Every `<!-- tested: NAME -->` marker in docs/deploy.md, in order. */
export function deploySnippetNames(doc = fs.readFileSync(DEPLOY_DOC, 'utf8')): string[] {
  return [...doc.matchAll(/<!-- tested: ([a-z0-9-]+) -->/g)].map((m) => m[1]!);
}

/** The fenced code block right after `<!-- tested: NAME -->` in docs/deploy.md (or `file`; `mark`: another word than "tested"). */
export function deploySnippet(name: string, file = DEPLOY_DOC, mark = 'tested'): string {
  const doc = fs.readFileSync(file, 'utf8');
  const tag = `<!-- ${mark}: ${name} -->`;
  const rel = path.relative(ROOT, file);
  const at = doc.indexOf(tag);
  if (at === -1) throw new Error(`${rel} has no snippet marked ${tag}`);
  const m = /^\s*```[a-z]*\n([\s\S]*?)^```/m.exec(doc.slice(at + tag.length));
  if (!m) throw new Error(`${rel}: no fenced code block after ${tag}`);
  return m[1]!;
}

/**
 * The snippet with the doc's placeholders (port 80, /run/app.sock, 3031,
 * 4000) replaced by the test's own. Every key must occur, so a snippet that
 * changes shape fails loudly instead of being tested with the doc's values.
 */
export function fillSnippet(name: string, replace: Record<string, string>, file = DEPLOY_DOC): string {
  let text = deploySnippet(name, file);
  for (const [from, to] of Object.entries(replace)) {
    if (!text.includes(from)) throw new Error(`${path.relative(ROOT, file)} snippet ${name} no longer contains ${JSON.stringify(from)}`);
    text = text.split(from).join(to);
  }
  return text;
}

/**
 * The line of deploy.md's `block` that starts with `prefix`, run as written
 * (bin/tsgi for "tsgi") in `dir`, with /run/app.sock and app.js replaced by
 * `sock` and an app module of `appSource` there; resolves once it serves.
 */
export async function startDocCommand(dir: string, opts: { block: string; prefix: string; sock: string; appSource: string }):
  Promise<{ command: string; sock: string; proc: TsgiProcess }> {
  const line = deploySnippet(opts.block).split('\n').find((l) => l.startsWith(opts.prefix));
  if (!line) throw new Error(`docs/deploy.md: no "${opts.prefix}..." line in the ${opts.block} block`);
  const command = line.replace(/#.*$/, '').trim();
  const app = path.join(dir, 'cli-app.js');
  fs.writeFileSync(app, opts.appSource);
  const sock = path.join(dir, opts.sock);
  // :www-data needs root (or membership) to chown to; otherwise the test's own group stands in.
  const group = process.getuid?.() === 0 ? ':www-data' : `:${process.getgid?.()}`;
  const args = command.split(/\s+/).slice(1)
    .map((a) => (a === '/run/app.sock' ? sock : a === 'app.js' ? app : a === ':www-data' ? group : a));
  return { command, sock, proc: await TsgiProcess.start(args, { cwd: dir }) };
}

// ---- processes ----------------------------------------------------------------

// Ports handed out by this process: the OS may offer a just-closed port again,
// and two equal ports in one peer config is a syntax error (Apache), not a
// bind error a retry would cure.
const handedOut = new Set<number>();

/** A port that was free a moment ago (the OS picks it), never the same twice in a process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { s.destroy(); resolve(false); });
  });
}

function readTail(file: string, lines = 60): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}

/** Children of `pid` (Apache's workers), from /proc. */
function childPids(pid: number): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try { entries = fs.readdirSync('/proc'); } catch { return out; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      // "pid (comm) state ppid ..." - comm may hold spaces; split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

const running = new Set<ChildProcess>();
// If the test process dies with a peer still up, take it (and Apache's
// workers) down with us rather than leave it holding ports.
process.on('exit', () => {
  for (const child of running) {
    if (child.pid === undefined) continue;
    for (const c of childPids(child.pid)) { try { process.kill(c, 'SIGKILL'); } catch { /* gone */ } }
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

export interface Peer {
  readonly name: string;
  readonly pid: number;
  readonly dir: string;
  /** Its error log (and what it printed), the last lines, for failure messages. */
  log(lines?: number): string;
  stop(): Promise<void>;
}

export interface SpawnSpec {
  name: string;
  dir: string;
  command: string;
  args: string[];
  errorLog: string;
  /** The generated config, shown (numbered) when startup fails. */
  configFile: string;
  ports: number[];
  /** Signal for a clean stop. */
  stopSignal: NodeJS.Signals;
  /** Its workers are its children (Apache): kill those too if it must be killed. */
  hasChildren: boolean;
}

async function startProcess(spec: SpawnSpec, timeoutMs = 15_000): Promise<Peer> {
  const output: string[] = [];
  const child = spawn(spec.command, spec.args, { cwd: spec.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => { exited = { code, signal }; running.delete(child); resolve(); });
    child.once('error', (err) => { spawnError = err; running.delete(child); resolve(); });
  });
  const numberedConfig = () => {
    try {
      return fs.readFileSync(spec.configFile, 'utf8').split('\n').map((l, i) => `${String(i + 1).padStart(3)}  ${l}`).join('\n');
    } catch {
      return `(no ${spec.configFile})`;
    }
  };
  const log = (lines = 60) =>
    `--- ${spec.name} ${spec.errorLog} ---\n${readTail(spec.errorLog, lines)}\n` +
    `--- ${spec.name} stdout/stderr ---\n${output.join('').split('\n').slice(-lines).join('\n')}`;
  const peer: Peer = {
    name: spec.name,
    pid: child.pid ?? -1,
    dir: spec.dir,
    log,
    async stop() {
      if (exited || spawnError || child.pid === undefined) return;
      const pid = child.pid;
      const workers = spec.hasChildren ? childPids(pid) : [];
      child.kill(spec.stopSignal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), 5000); });
      const how = await Promise.race([exit.then(() => 'exited' as const), timeout]);
      clearTimeout(timer);
      if (how === 'timeout') {
        for (const w of [...workers, ...childPids(pid)]) { try { process.kill(w, 'SIGKILL'); } catch { /* gone */ } }
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
  const started = Date.now();
  for (;;) {
    if (spawnError) throw new Error(`${spec.name} did not start: ${spawnError.message}`);
    if (exited) {
      throw new Error(`${spec.name} exited during startup (code ${exited.code}, signal ${exited.signal}): ` +
        `${spec.command} ${spec.args.join(' ')}\n${log()}\n--- ${spec.configFile} ---\n${numberedConfig()}`);
    }
    const up = await Promise.all(spec.ports.map(canConnect));
    if (up.every(Boolean)) return peer;
    if (Date.now() - started > timeoutMs) {
      await peer.stop();
      throw new Error(`${spec.name} did not answer on ports ${spec.ports.join(', ')} within ${timeoutMs} ms\n${log()}` +
        `\n--- ${spec.configFile} ---\n${numberedConfig()}`);
    }
    await delay(25);
  }
}

/** Starts a peer, retrying with fresh ports if one was taken in the meantime. */
export async function startWithRetry(make: () => Promise<SpawnSpec>, attempts = 3): Promise<Peer> {
  for (let i = 1; ; i++) {
    const spec = await make();
    try {
      return await startProcess(spec);
    } catch (err) {
      const msg = String((err as Error).message);
      if (i >= attempts || !/Address already in use|could not bind/i.test(msg)) throw err;
    }
  }
}

/** A server block of the http context, on its own port. */
export interface NginxServer {
  /** Text of one or more `server { }` blocks. */
  config: string;
  /** The port its `listen` uses (to wait for). */
  port: number;
}

/**
 * nginx in the foreground (`daemon off`), one process (`master_process off`,
 * so it runs as whoever we are and can reach sockets in our temp dir, and one
 * PID to stop), with Debian's stock uwsgi_params and scgi_params copied next
 * to the config so that `include uwsgi_params;` means what it means in
 * /etc/nginx. Temp files and logs stay in `dir`.
 */
export async function startNginx(dir: string, servers: () => Promise<NginxServer[]>): Promise<Peer> {
  for (const f of ['uwsgi_params', 'scgi_params']) {
    fs.copyFileSync(path.join('/etc/nginx', f), path.join(dir, f));
  }
  return startWithRetry(async () => {
    const list = await servers();
    const conf = path.join(dir, 'nginx.conf');
    const errorLog = path.join(dir, 'nginx-error.log');
    fs.writeFileSync(conf, [
      'master_process off;',
      'worker_processes 1;',
      'events { worker_connections 512; }',
      'http {',
      `    access_log ${path.join(dir, 'nginx-access.log')};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) =>
        `    ${k}_temp_path ${path.join(dir, `nginx-${k}`)};`),
      ...list.map((s) => s.config.replace(/^/gm, '    ')),
      '}',
      '',
    ].join('\n'));
    return {
      name: 'nginx',
      dir,
      command: 'nginx',
      args: ['-p', dir, '-c', conf, '-e', errorLog,
        '-g', `daemon off; pid ${path.join(dir, 'nginx.pid')}; error_log ${errorLog} info;`],
      errorLog,
      configFile: conf,
      ports: list.map((s) => s.port),
      stopSignal: 'SIGTERM',
      hasChildren: false,
    };
  });
}

export interface ApacheSite {
  /** One or more `<VirtualHost>` blocks. */
  config: string;
  /** The port to add a `Listen` for. */
  port: number;
}

const APACHE_MODULES = ['/usr/lib/apache2/modules', '/usr/lib64/httpd/modules', '/usr/libexec/apache2'];

/** Apache httpd's binary: Debian's /usr/sbin/apache2, or httpd elsewhere. */
export function apacheBinary(): string {
  for (const b of ['/usr/sbin/apache2', '/usr/sbin/httpd']) if (fs.existsSync(b)) return b;
  return 'apache2';
}

/**
 * Apache httpd in the foreground (`-DFOREGROUND`) with its own minimal
 * httpd.conf (LoadModule lines for the event MPM, authz_core, proxy,
 * proxy_uwsgi, proxy_scgi, ssl); Debian's /etc/apache2 is not read. Run as root it
 * drops its workers to www-data, which is what a real install does, so the
 * backend's unix sockets must be reachable by that user.
 */
export async function startApache(dir: string, sites: () => Promise<ApacheSite[]>,
  opts: { modules?: readonly string[] } = {}): Promise<Peer> {
  const modDir = APACHE_MODULES.find((d) => fs.existsSync(path.join(d, 'mod_proxy.so')));
  if (!modDir) throw new Error(`mod_proxy.so not found in ${APACHE_MODULES.join(', ')}`);
  const mods = ['mpm_event', 'authz_core', 'proxy', 'proxy_uwsgi', 'proxy_scgi', 'ssl', ...(opts.modules ?? [])];
  // Compiled in on Debian, a module elsewhere.
  if (fs.existsSync(path.join(modDir, 'mod_unixd.so'))) mods.push('unixd');
  const asRoot = process.getuid?.() === 0;
  return startWithRetry(async () => {
    const list = await sites();
    const conf = path.join(dir, 'httpd.conf');
    const errorLog = path.join(dir, 'apache-error.log');
    fs.writeFileSync(conf, [
      `ServerRoot "${dir}"`,
      `DefaultRuntimeDir "${dir}"`,
      `PidFile "${path.join(dir, 'apache.pid')}"`,
      `ErrorLog "${errorLog}"`,
      'LogLevel warn',
      'ServerName localhost',
      ...mods.map((m) => `LoadModule ${m}_module "${path.join(modDir, `mod_${m}.so`)}"`),
      ...(asRoot ? ['User www-data', 'Group www-data'] : []),
      'StartServers 1',
      'Timeout 30',
      ...list.map((s) => `Listen 127.0.0.1:${s.port}`),
      ...list.map((s) => s.config),
      '',
    ].join('\n'));
    return {
      name: 'apache2',
      dir,
      command: apacheBinary(),
      args: ['-f', conf, '-DFOREGROUND'],
      errorLog,
      configFile: conf,
      ports: list.map((s) => s.port),
      stopSignal: 'SIGTERM',
      hasChildren: true,
    };
  });
}

/**
 * A self-signed certificate for example.com, made with the openssl command
 * (undefined without it): { cert, key } file paths in `dir`.
 */
export function selfSignedCert(dir: string): { cert: string; key: string } | undefined {
  if (!have('openssl')) return undefined;
  const cert = path.join(dir, 'example.com.pem');
  const key = path.join(dir, 'example.com.key');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=example.com',
    '-keyout', key, '-out', cert], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl could not make a certificate: ${r.stderr}`);
  return { cert, key };
}

// ---- the backend: tsgi on uwsgi and SCGI, unix and TCP -------------------------

/** What the app saw of a request, by the `id` in its query string. */
export interface Seen {
  aborted?: boolean;
  finallyRan?: boolean;
  yielded: number;
  secondChunkAt?: number;
}

/** What the checks need of any backend: what the app saw, and tsgi's log. */
export interface BackendBase {
  server: ServerHandle;
  dir: string;
  seen: Map<string, Seen>;
  logs: string[];
  close(): Promise<void>;
}

export interface Backend {
  server: ServerHandle;
  dir: string;
  uwsgiSock: string;
  scgiSock: string;
  uwsgiPort: number;
  scgiPort: number;
  seen: Map<string, Seen>;
  /** tsgi's log lines. */
  logs: string[];
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
export const DOWNLOAD_BYTES = 50 * MiB;
export const UPLOAD_BYTES = 10 * MiB;

/** The 50 MiB the app sends: MiB number i is filled with the byte i. */
export function downloadDigest(): string {
  const h = createHash('sha256');
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < DOWNLOAD_BYTES / MiB; i++) h.update(block.fill(i & 0xff));
  return h.digest('hex');
}

/**
 * The app behind every route. It routes on SCRIPT_NAME + PATH_INFO without a
 * leading /app and /stream, so it answers the same wherever it is mounted
 * (and under Apache's mod_proxy_scgi, which sends the path as SCRIPT_NAME).
 */
export function peerApp(seen: Map<string, Seen>): App {
  const record = (req: Request): Seen => {
    const id = new URLSearchParams(req.QUERY_STRING).get('id') ?? '';
    const s: Seen = { yielded: 0 };
    seen.set(id, s);
    return s;
  };
  return async (req): Promise<TsgiReply> => {
    const route = (req.SCRIPT_NAME + req.PATH_INFO).replace(/^\/app(?=\/)/, '').replace(/^\/stream(?=\/)/, '');
    switch (route) {
      case '/hello':
        return { headers: { 'Content-Type': 'text/plain' }, body: 'hello\n' };
      case '/stderr':
        // The error stream: STDERR records over FastCGI (the web server's log), tsgi's log elsewhere.
        req.errors.write(`stderr probe ${req.QUERY_STRING}\n`);
        return { headers: { 'Content-Type': 'text/plain' }, body: 'logged\n' };
      case '/vars/a b':
        return {
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({
            vars: req.vars(),
            props: {
              REQUEST_METHOD: req.REQUEST_METHOD, SCRIPT_NAME: req.SCRIPT_NAME, PATH_INFO: req.PATH_INFO,
              QUERY_STRING: req.QUERY_STRING, REQUEST_URI: req.REQUEST_URI, SERVER_NAME: req.SERVER_NAME,
              SERVER_PORT: req.SERVER_PORT, SERVER_PROTOCOL: req.SERVER_PROTOCOL, REMOTE_ADDR: req.REMOTE_ADDR,
              REMOTE_PORT: req.REMOTE_PORT, CONTENT_TYPE: req.CONTENT_TYPE, CONTENT_LENGTH: req.CONTENT_LENGTH,
            },
            headers: req.headers,
            xCustom: req.header('X-Custom') ?? null,
            cookie: req.header('cookie') ?? null,
            xDup: req.header('x-dup') ?? null,
            tsgi: { url_scheme: req.tsgi.url_scheme, protocol: req.tsgi.protocol },
          }),
        };
      case '/echo': {
        const body = await req.body.bytes();
        return {
          headers: [['Content-Type', 'application/octet-stream'], ['X-Content-Type', req.CONTENT_TYPE],
            ['X-Content-Length', req.CONTENT_LENGTH], ['X-Method', req.REQUEST_METHOD]],
          body,
        };
      }
      case '/upload': {
        const h = createHash('sha256');
        let n = 0;
        for await (const piece of req.body) {
          h.update(piece);
          n += piece.byteLength;
        }
        return { headers: { 'Content-Type': 'text/plain' }, body: `${n} ${h.digest('hex')} ${req.CONTENT_LENGTH}` };
      }
      case '/download':
        return {
          headers: { 'Content-Type': 'application/octet-stream' },
          body: (function* () {
            const block = Buffer.alloc(MiB);
            for (let i = 0; i < DOWNLOAD_BYTES / MiB; i++) yield block.fill(i & 0xff);
          })(),
        };
      case '/chunks': {
        const s = record(req);
        const accel = new URLSearchParams(req.QUERY_STRING).has('accel');
        const headers: HeaderList = accel
          ? { 'Content-Type': 'text/plain', 'X-Accel-Buffering': 'no' }
          : { 'Content-Type': 'text/plain' };
        return {
          headers,
          body: (async function* () {
            yield 'first\n';
            await delay(300);
            s.secondChunkAt = performance.now();
            yield 'second\n';
          })(),
        };
      }
      case '/cookies':
        return {
          headers: [['Content-Type', 'text/plain'], ['Set-Cookie', 'a=1; Path=/'], ['Set-Cookie', 'b=2; HttpOnly']],
          body: 'two cookies\n',
        };
      case '/status/404':
        return { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'no such thing\n' };
      case '/status/302':
        return { status: 302, headers: { Location: 'http://example.com/elsewhere' }, body: '' };
      case '/status/204':
        return { status: 204 };
      case '/error':
        throw new Error('the app failed on purpose');
      case '/slow': {
        const s = record(req);
        req.signal.addEventListener('abort', () => { s.aborted = true; });
        return {
          headers: { 'Content-Type': 'application/octet-stream' },
          // Never stops by itself (well, after ~40 s): only the server can end it.
          body: (async function* () {
            try {
              const block = Buffer.alloc(64 * 1024, 0x61);
              for (let i = 0; i < 8000; i++) {
                s.yielded += block.length;
                yield block;
                await delay(5);
              }
            } finally {
              s.finallyRan = true;
            }
          })(),
        };
      }
      default:
        return {
          status: 404,
          headers: { 'Content-Type': 'text/plain' },
          body: `unknown route ${JSON.stringify(route)}: SCRIPT_NAME ${JSON.stringify(req.SCRIPT_NAME)}, ` +
            `PATH_INFO ${JSON.stringify(req.PATH_INFO)}, REQUEST_URI ${JSON.stringify(req.REQUEST_URI)}\n`,
        };
    }
  };
}

/**
 * tsgi serving `peerApp` on uwsgi and SCGI, each on a unix socket and on TCP,
 * in a temp dir the peers' workers (www-data under Apache) can reach.
 */
export function startBackend(dir: string, opts: { manageScriptName?: boolean } = {}): Backend {
  fs.chmodSync(dir, 0o755);
  const seen = new Map<string, Seen>();
  const logs: string[] = [];
  const uwsgiSock = path.join(dir, 'uwsgi.sock');
  const scgiSock = path.join(dir, 'scgi.sock');
  const inner = peerApp(seen);
  // As `tsgi --mount /app=app.js --manage-script-name app.js` would serve it.
  const app = opts.manageScriptName ? dispatch({ mounts: { '/app': inner, '/': inner }, manageScriptName: true }) : inner;
  const server = serve(app, {
    listen: [`uwsgi://${uwsgiSock}`, `scgi://${scgiSock}`, 'uwsgi://127.0.0.1:0', 'scgi://127.0.0.1:0'],
    socketMode: 0o666,
    log: (line) => { logs.push(line); },
  });
  return {
    server, dir, uwsgiSock, scgiSock, seen, logs,
    uwsgiPort: server.addresses[2]!.port!,
    scgiPort: server.addresses[3]!.port!,
    close: () => server.close(2000),
  };
}

// ---- an HTTP client -----------------------------------------------------------

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface Send {
  method?: string;
  /** Flat [name, value, name, value, ...] so that a name can repeat. */
  headers?: string[];
  body?: Buffer | string;
  /** Send the body with Transfer-Encoding: chunked. */
  chunked?: boolean;
}

/** The Host header a browser sends for example.com on this URL's port. */
export function hostFor(url: string): string {
  return `example.com:${new URL(url).port}`;
}

/**
 * One request on a fresh connection, for example.com (the port of `url` in
 * Host, as a browser sends it); `localPort` is the client's port.
 */
export function fetchRaw(url: string, opts: Send = {}): Promise<HttpReply & { localPort: number }> {
  return new Promise((resolve, reject) => {
    const headers = [...(opts.headers ?? [])];
    if (!headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'host')) headers.push('Host', hostFor(url));
    if (opts.body !== undefined && !opts.chunked) headers.push('Content-Length', String(Buffer.byteLength(opts.body)));
    if (opts.chunked) headers.push('Transfer-Encoding', 'chunked');
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.request(url, {
      method: opts.method ?? 'GET', headers, agent: false, timeout: 30_000, rejectUnauthorized: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks),
        localPort,
      }));
      res.on('error', reject);
    });
    let localPort = 0;
    req.on('socket', (s) => s.on(url.startsWith('https:') ? 'secureConnect' : 'connect', () => { localPort = s.localPort ?? 0; }));
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} in 30 s`)));
    req.on('error', reject);
    if (opts.body !== undefined && opts.chunked) {
      const b = Buffer.from(opts.body);
      // A few pieces, so it really goes out chunked.
      for (let i = 0; i < b.length; i += 64 * 1024) req.write(b.subarray(i, i + 64 * 1024));
      req.end();
    } else {
      req.end(opts.body);
    }
  });
}

// ---- the checks, per route ----------------------------------------------------

export type Check =
  | 'hello' | 'vars' | 'path' | 'repeated headers' | 'post echo' | 'upload' | 'chunked upload' | 'download'
  | 'streaming' | 'set-cookie' | 'statuses' | 'app error' | 'client abort' | 'abort signal' | 'concurrency';

/** tsgi bugs the checks run into on every route (kept as `todo` until fixed). */
export const KNOWN_BUGS: Partial<Record<Check, string>> = {};

export interface Route {
  /** "uwsgi_pass over a unix socket". */
  name: string;
  protocol: 'uwsgi' | 'scgi' | 'fastcgi';
  /** The mount point: "" or "/app". */
  prefix: string;
  /** Filled in by the suite's before(): the peer's port for this route. */
  port: number;
  /** The peer, for its error log in failure messages. */
  peer?: Peer;
  /** Checks expected to fail, with why (`{ todo }`). */
  todo?: Partial<Record<Check, string>>;
  /** The peer refuses chunked request bodies itself (411): check that instead. */
  refusesChunkedUpload?: boolean;
  /**
   * The peer passes a chunked request body on as it arrives, without working
   * out its length (Apache's mod_proxy_fcgi): the app sees CONTENT_LENGTH "".
   */
  streamsChunkedUpload?: boolean;
  /** The web server in front: what it sends differs a little (see the vars checks). */
  front: 'nginx' | 'apache';
  /** Also check that `X-Accel-Buffering: no` from the app streams in a buffered location (nginx). */
  accelBuffering?: boolean;
}

export interface Suite {
  /** The program and its Debian package, for requirePeer(). */
  program: string;
  debianPackage: string;
  backend: () => BackendBase | undefined;
  /** requirePeer() for this suite's program, looked up once. */
  require: (t: { skip(msg?: string): void }) => boolean;
}

/** Runs `fn`; on failure adds the peer's error log and tsgi's log to the message. */
async function withLogs(route: Route, suite: Suite, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const logs = suite.backend()?.logs ?? [];
    e.message += `\n--- route: ${route.name} on port ${route.port} ---\n` +
      (route.peer ? route.peer.log(30) : '(peer not started)') +
      `\n--- tsgi log (last 20) ---\n${logs.slice(-20).join('\n')}`;
    throw e;
  }
}

let nextId = 0;
const newId = () => `r${++nextId}-${process.pid}`;

/** The checks for one route, as a describe() of tests. */
export function routeTests(route: Route, suite: Suite): void {
  const url = (p: string) => `http://127.0.0.1:${route.port}${route.prefix}${p}`;
  const check = (name: Check, title: string, fn: () => Promise<void>) => {
    const todo = route.todo?.[name] ?? KNOWN_BUGS[name];
    test(title, { timeout: 30_000, ...(todo ? { todo } : {}) }, async (t) => {
      if (!suite.require(t)) return;
      await withLogs(route, suite, fn);
    });
  };
  const seen = (id: string) => suite.backend()!.seen.get(id);

  describe(route.name, () => {
    check('hello', 'hello', async () => {
      const r = await fetchRaw(url('/hello'));
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.body.toString(), 'hello\n');
      assert.equal(r.headers['content-type'], 'text/plain');
    });

    const getVars = async () => {
      const r = await fetchRaw(url('/vars/a%20b?x=1&y=%2F'),
        { headers: ['X_Custom', 'underscored', 'X-Custom', 'hello', 'User-Agent', 'peer-test'] });
      assert.equal(r.status, 200, r.body.toString());
      return { r, v: JSON.parse(r.body.toString()) as {
        vars: Record<string, string>; props: Record<string, string>; headers: Array<[string, string]>;
        xCustom: string | null; cookie: string | null; xDup: string | null;
        tsgi: { url_scheme: string; protocol: string };
      } };
    };

    check('vars', 'request variables: method, query, URI, server, remote, headers, scheme', async () => {
      const { r, v } = await getVars();
      const p = v.props;
      assert.equal(p.REQUEST_METHOD, 'GET');
      assert.equal(p.QUERY_STRING, 'x=1&y=%2F');
      assert.equal(p.REQUEST_URI, `${route.prefix}/vars/a%20b?x=1&y=%2F`);
      assert.equal(p.SERVER_NAME, 'example.com');
      assert.equal(p.SERVER_PORT, String(route.port));
      assert.equal(p.SERVER_PROTOCOL, 'HTTP/1.1');
      assert.equal(p.REMOTE_ADDR, '127.0.0.1');
      assert.equal(p.REMOTE_PORT, String(r.localPort), 'REMOTE_PORT is the client\'s port, not the peer\'s');
      // X_Custom would map to HTTP_X_CUSTOM too: the peers drop such names.
      assert.equal(v.vars.HTTP_X_CUSTOM, 'hello');
      assert.ok(!Object.values(v.vars).some((x) => x.includes('underscored')), 'a header named with "_" got through');
      assert.equal(v.xCustom, 'hello');
      assert.equal(v.vars.HTTP_USER_AGENT, 'peer-test');
      // Debian's uwsgi_params and scgi_params send nginx's $host, without the port.
      assert.equal(v.vars.HTTP_HOST, route.front === 'nginx' ? 'example.com' : `example.com:${route.port}`);
      assert.deepEqual(v.headers.filter(([n]) => n === 'x-custom'), [['x-custom', 'hello']]);
      assert.deepEqual(v.headers.filter(([n]) => n === 'host'), [['host', v.vars.HTTP_HOST]]);
      assert.equal(v.tsgi.url_scheme, 'http');
      assert.equal(v.tsgi.protocol, route.protocol);
    });

    check('path', `PATH_INFO is the decoded path below SCRIPT_NAME ${JSON.stringify(route.prefix)}`, async () => {
      const { v } = await getVars();
      assert.deepEqual({ SCRIPT_NAME: v.props.SCRIPT_NAME, PATH_INFO: v.props.PATH_INFO },
        { SCRIPT_NAME: route.prefix, PATH_INFO: '/vars/a b' });
    });

    check('repeated headers', 'a header sent twice (two Cookie lines, two X-Dup) reaches the app with both values', async () => {
      const r = await fetchRaw(url('/vars/a%20b'), { headers: ['Cookie', 'a=1', 'Cookie', 'b=2', 'X-Dup', 'one', 'X-Dup', 'two'] });
      assert.equal(r.status, 200, r.body.toString());
      const v = JSON.parse(r.body.toString()) as { cookie: string; xDup: string };
      // nginx 1.22 sends two HTTP_COOKIE pairs, which tsgi joins with "; "; Apache joins them itself, with ", ".
      assert.equal(v.cookie, route.front === 'nginx' ? 'a=1; b=2' : 'a=1, b=2');
      assert.equal(v.xDup, 'one, two');
    });

    check('post echo', 'POST: the body is echoed, with CONTENT_TYPE and CONTENT_LENGTH', async () => {
      const body = 'name=tsgi&kind=app+server\n';
      const r = await fetchRaw(url('/echo'), {
        method: 'POST', body, headers: ['Content-Type', 'application/x-www-form-urlencoded'],
      });
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.body.toString(), body);
      assert.equal(r.headers['x-content-type'], 'application/x-www-form-urlencoded');
      assert.equal(r.headers['x-content-length'], String(body.length));
      assert.equal(r.headers['x-method'], 'POST');
    });

    check('upload', '10 MiB upload arrives whole (sha256 in the app)', async () => {
      const data = randomBytes(UPLOAD_BYTES);
      const r = await fetchRaw(url('/upload'), { method: 'PUT', body: data, headers: ['Content-Type', 'application/octet-stream'] });
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.body.toString(), `${data.length} ${createHash('sha256').update(data).digest('hex')} ${data.length}`);
    });

    check('chunked upload', route.refusesChunkedUpload
      ? 'a chunked upload is refused by the peer itself (411), not by tsgi'
      : route.streamsChunkedUpload
        ? 'a chunked upload (no Content-Length) arrives whole, streamed: CONTENT_LENGTH ""'
        : 'a chunked upload (no Content-Length) arrives whole, with the length the peer worked out', async () => {
      const data = randomBytes(MiB + 123);
      const r = await fetchRaw(url('/upload'), { method: 'POST', body: data, chunked: true });
      if (route.refusesChunkedUpload) {
        assert.equal(r.status, 411, r.body.toString());
        return;
      }
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.body.toString(), `${data.length} ${createHash('sha256').update(data).digest('hex')} ` +
        (route.streamsChunkedUpload ? '' : `${data.length}`));
    });

    check('download', '50 MiB download arrives whole', async () => {
      const expected = downloadDigest();
      const got = await new Promise<{ status: number; bytes: number; digest: string }>((resolve, reject) => {
        const u = url('/download');
        const req = http.get(u, { agent: false, headers: { Host: hostFor(u) }, timeout: 30_000 }, (res) => {
          const h = createHash('sha256');
          let bytes = 0;
          res.on('data', (c: Buffer) => { bytes += c.length; h.update(c); });
          res.on('end', () => resolve({ status: res.statusCode!, bytes, digest: h.digest('hex') }));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('download stalled')));
        req.on('error', reject);
      });
      assert.equal(got.status, 200);
      assert.equal(got.bytes, DOWNLOAD_BYTES);
      assert.equal(got.digest, expected);
    });

    const streamed = async (p: string) => {
      const id = newId();
      const got = await new Promise<{ status: number; body: string; firstAt: number; pieces: number }>((resolve, reject) => {
        const u = url(`${p}${p.includes('?') ? '&' : '?'}id=${id}`);
        const req = http.get(u, { agent: false, headers: { Host: hostFor(u) }, timeout: 10_000 }, (res) => {
            let body = '';
            let firstAt = 0;
            let pieces = 0;
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              if (!firstAt) firstAt = performance.now();
              pieces++;
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode!, body, firstAt, pieces }));
            res.on('error', reject);
          });
        req.on('timeout', () => req.destroy(new Error('stream stalled')));
        req.on('error', reject);
      });
      assert.equal(got.status, 200);
      assert.equal(got.body, 'first\nsecond\n');
      const s = seen(id);
      assert.ok(s?.secondChunkAt, 'the app did not produce the second chunk');
      assert.ok(got.firstAt < s.secondChunkAt!,
        `the first chunk arrived ${(got.firstAt - s.secondChunkAt!).toFixed(1)} ms after the second was produced: ` +
        'the reply was buffered, not streamed');
      assert.ok(got.pieces >= 2);
    };

    check('streaming', 'a streamed reply arrives in pieces: the first before the app produces the second', async () => {
      await streamed('/stream/chunks');
    });

    if (route.accelBuffering) {
      test('X-Accel-Buffering: no from the app streams in a buffered location', { timeout: 30_000 }, async (t) => {
        if (!suite.require(t)) return;
        await withLogs(route, suite, () => streamed('/chunks?accel'));
      });
    }

    check('set-cookie', 'two Set-Cookie headers both reach the client', async () => {
      const r = await fetchRaw(url('/cookies'));
      assert.equal(r.status, 200);
      assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly']);
    });

    check('statuses', 'non-200 statuses: 404 with a body, 302 with Location, 204 without a body', async () => {
      const nf = await fetchRaw(url('/status/404'));
      assert.equal(nf.status, 404);
      assert.equal(nf.body.toString(), 'no such thing\n');
      const found = await fetchRaw(url('/status/302'));
      assert.equal(found.status, 302);
      assert.equal(found.headers.location, 'http://example.com/elsewhere');
      const nc = await fetchRaw(url('/status/204'));
      assert.equal(nc.status, 204);
      assert.equal(nc.body.length, 0);
    });

    check('concurrency', '60 requests, 20 at a time, mixed GET and POST, each gets its own answer', async () => {
      let next = 0;
      const worker = async () => {
        while (next < 60) {
          const i = next++;
          if (i % 2 === 0) {
            const r = await fetchRaw(url('/hello'));
            assert.equal(r.body.toString(), 'hello\n');
          } else {
            const body = `request ${i} `.repeat(i * 50);
            const r = await fetchRaw(url('/echo'), { method: 'POST', body });
            assert.equal(r.status, 200);
            assert.equal(r.body.toString(), body);
          }
        }
      };
      await Promise.all(Array.from({ length: 20 }, worker));
    });

    check('app error', 'an app that throws gives 500, and the next request is served', async () => {
      const r = await fetchRaw(url('/error'));
      assert.equal(r.status, 500);
      assert.ok(!r.body.toString().includes('on purpose'), 'the error text leaked to the client');
      assert.ok(suite.backend()!.logs.some((l) => l.includes('the app failed on purpose')), 'tsgi did not log the error');
      const next = await fetchRaw(url('/hello'));
      assert.equal(next.status, 200);
      assert.equal(next.body.toString(), 'hello\n');
    });

    let abortedId: string | undefined;
    check('client abort', 'a client that goes away mid-reply: the generator is stopped (its finally runs), serving goes on', async () => {
      const id = newId();
      abortedId = id;
      await new Promise<void>((resolve, reject) => {
        const u = url(`/slow?id=${id}`);
        const req = http.get(u, { agent: false, headers: { Host: hostFor(u) } }, (res) => {
          let n = 0;
          res.on('data', (c: Buffer) => {
            n += c.length;
            if (n >= 256 * 1024) {
              req.destroy();
              resolve();
            }
          });
          res.on('error', () => {});
          res.on('end', () => reject(new Error('the endless reply ended')));
        });
        req.on('error', () => {});
      });
      const before = JSON.stringify(seen(id));
      await until(() => seen(id)?.finallyRan === true, 10_000, 'the generator\'s finally').catch((err: Error) => {
        err.message += ` (seen when the client left: ${before}; now: ${JSON.stringify(seen(id))})`;
        throw err;
      });
      const next = await fetchRaw(url('/hello'));
      assert.equal(next.status, 200);
      assert.equal(next.body.toString(), 'hello\n');
    });

    check('abort signal', 'a client that goes away mid-reply: req.signal fires', async () => {
      assert.ok(abortedId, 'the client-abort check did not run');
      await until(() => seen(abortedId!)?.aborted === true, 2000, 'req.signal').catch((err: Error) => {
        err.message += ` (seen: ${JSON.stringify(seen(abortedId!))})`;
        throw err;
      });
    });
  });
}

/** A route served over TLS by the peer: the app sees https. */
export function tlsTest(route: Route, suite: Suite): void {
  test(`${route.name}: the app sees url_scheme https, HTTPS on`, { timeout: 30_000 }, async (t) => {
    if (!suite.require(t)) return;
    if (!requirePeer(t, 'openssl', 'openssl')) return;
    await withLogs(route, suite, async () => {
      const r = await fetchRaw(`https://127.0.0.1:${route.port}${route.prefix}/vars/a%20b?x=1`);
      assert.equal(r.status, 200, r.body.toString());
      const v = JSON.parse(r.body.toString()) as {
        vars: Record<string, string>; props: Record<string, string>; tsgi: { url_scheme: string; protocol: string };
      };
      assert.equal(v.tsgi.url_scheme, 'https');
      assert.equal(v.tsgi.protocol, route.protocol);
      assert.equal(v.vars.HTTPS, 'on');
      assert.equal(v.vars.REQUEST_SCHEME, 'https');
      assert.equal(v.props.SERVER_PORT, String(route.port));
      assert.equal(v.props.PATH_INFO, '/vars/a b');
    });
  });
}

/**
 * A temp dir every user can reach (Apache's workers run as www-data): under
 * os.tmpdir() if each directory above it is searchable by others, else /tmp.
 */
export function reachableTempDir(): string {
  const dir = tempDir('tsgi-peers-');
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) {
      fs.rmSync(dir, { recursive: true, force: true });
      return fs.mkdtempSync('/tmp/tsgi-peers-');
    }
    if (path.dirname(d) === d) return dir;
  }
}

/** The before/after of a peer suite: a backend, then the peer; stopped in reverse. */
export function peerSuite<B extends BackendBase = Backend>(opts: {
  program: string;
  debianPackage: string;
  start: (backend: B) => Promise<Peer>;
  /** The tsgi the peer talks to (default startBackend: uwsgi and SCGI). */
  backend?: (dir: string) => B;
}): { suite: Suite; peer: () => Peer | undefined; backend: () => B | undefined } {
  let backend: B | undefined;
  let peer: Peer | undefined;
  let dir: string | undefined;
  const present = have(opts.program);
  before(async () => {
    if (!present) return;
    dir = reachableTempDir();
    backend = opts.backend ? opts.backend(dir) : startBackend(dir) as unknown as B;
    peer = await opts.start(backend);
  });
  after(async () => {
    await peer?.stop();
    await backend?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    suite: {
      program: opts.program, debianPackage: opts.debianPackage, backend: () => backend,
      require: (t) => present || requirePeer(t, opts.program, opts.debianPackage),
    },
    peer: () => peer,
    backend: () => backend,
  };
}

// ---- FastCGI: the backend, nginx's fastcgi_params, lighttpd -------------------

/** tsgi serving `fcgiPeerApp` on FastCGI, a unix socket and TCP. */
export interface FcgiBackend extends BackendBase {
  fcgiSock: string;
  fcgiPort: number;
}

/**
 * `peerApp`, plus /where/...: SCRIPT_NAME and PATH_INFO as the app sees them,
 * and /peer: the address and port the request came from (the web
 * server's end of the connection, so requests that share a kept-alive
 * connection share a port) and the request's role.
 */
export function fcgiPeerApp(seen: Map<string, Seen>): App {
  const inner = peerApp(seen);
  return (req) => {
    const route = (req.SCRIPT_NAME + req.PATH_INFO).replace(/^\/app(?=\/)/, '').replace(/^\/stream(?=\/)/, '');
    if (route.startsWith('/where/')) {
      return { headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ SCRIPT_NAME: req.SCRIPT_NAME, PATH_INFO: req.PATH_INFO }) };
    }
    if (route === '/peer') {
      return {
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ peer: (req as Request & { peer?: unknown }).peer ?? null, role: req.tsgi.role ?? null,
          protocol: req.tsgi.protocol }),
      };
    }
    return inner(req);
  };
}

/** tsgi on FastCGI, a unix socket (mode 0666, for Apache's www-data workers) and TCP on 127.0.0.1. */
export function startFcgiBackend(dir: string): FcgiBackend {
  fs.chmodSync(dir, 0o755);
  const seen = new Map<string, Seen>();
  const logs: string[] = [];
  const fcgiSock = path.join(dir, 'fcgi.sock');
  const server = serve(fcgiPeerApp(seen), {
    listen: [`fastcgi://${fcgiSock}`, 'fastcgi://127.0.0.1:0'],
    socketMode: 0o666,
    log: (line) => { logs.push(line); },
  });
  return {
    server, dir, fcgiSock, seen, logs,
    fcgiPort: server.addresses[1]!.port!,
    close: () => server.close(2000),
  };
}

/** Debian's stock fastcgi_params next to the generated nginx.conf, so `include fastcgi_params;` works. */
export function copyFastcgiParams(dir: string): void {
  fs.copyFileSync('/etc/nginx/fastcgi_params', path.join(dir, 'fastcgi_params'));
}

/** A lighttpd config: its text (server.* settings and modules are added) and the port it listens on. */
export interface LighttpdSite {
  config: string;
  port: number;
}

/** The PIDs of a process's children (lighttpd's bin-path backends), from /proc. */
export function childrenOf(pid: number): number[] {
  return childPids(pid);
}

/**
 * lighttpd in the foreground (`-D`) with a generated config: the port, the
 * logs and the pid file in `dir`, then the site's own text. It runs as
 * whoever we are; backends it spawns (bin-path) are its children, and are
 * stopped with it (lighttpd sends them SIGTERM on shutdown; if one is still
 * there after, the caller kills it by PID, see childrenOf()).
 */
export async function startLighttpd(dir: string, site: () => Promise<LighttpdSite>): Promise<Peer> {
  return startWithRetry(async () => {
    const s = await site();
    const conf = path.join(dir, 'lighttpd.conf');
    const errorLog = path.join(dir, 'lighttpd-error.log');
    fs.writeFileSync(conf, [
      `server.document-root = "${dir}"`,
      'server.bind = "127.0.0.1"',
      `server.port = ${s.port}`,
      `server.errorlog = "${errorLog}"`,
      `server.pid-file = "${path.join(dir, 'lighttpd.pid')}"`,
      `server.upload-dirs = ( "${dir}" )`,
      'server.max-request-size = 102400',
      s.config,
      '',
    ].join('\n'));
    return {
      name: 'lighttpd',
      dir,
      command: 'lighttpd',
      args: ['-D', '-f', conf],
      errorLog,
      configFile: conf,
      ports: [s.port],
      stopSignal: 'SIGTERM',
      hasChildren: true,
    };
  });
}
