#!/usr/bin/env node
// The comparison suite: tsgi against its peers, every protocol, several workloads, one run.
//
//   RUNS=5 DURATION=5 node bench/suite.mjs [--workloads=hello,16k] [--targets=tsgi,nginx,...]
//                                          [--json] [--no-write] [--svg=FILE] [--list]
//
// Starts each server once, pinned to SERVER_CPU (0): tsgi over HTTP, uwsgi,
// SCGI and FastCGI (bench/servers/suite-tsgi.mjs), node:http, Fastify,
// @hono/node-server, Express and Hono on tsgi and on node:http, uWSGI
// (python3 plugin, one process) over HTTP, uwsgi, SCGI and FastCGI, php-fpm
// (pm = static, one child), node-fastcgi, and nginx `return 200` / static
// files as the ceiling. A second nginx (one worker, on NGINX_CPU, default the
// client's CPU) fronts the binary protocols. The load comes from the standalone
// load generator (build-loadgen/tsgi-loadgen, the engine of `tsgi bench`) pinned to
// CLIENT_CPU (1). Every target's reply is checked by Node's own client and by
// `loadgen --once` before any load; then each target is warmed up and measured
// RUNS times, interleaved. Per target: median req/s (min–max), p99, server CPU
// µs per request (/proc, the server's whole process tree), RSS; ratios to
// node:http and to nginx within the run. Appends a section to bench/RESULTS.md
// and writes bench/results.svg.
//
// --workloads: hello, 16k, 1m, post64k, post64k-bytes, headers20, json, plaintext
// (default: all).
// --targets: target names or server families (tsgi, node, uwsgi, php, nginx,
// via-nginx, direct), comma-separated. --list prints the matrix and exits.
// Each server's resident size is read after start and the checks (idle), at
// the end of the runs, and SETTLE seconds later (tsgi gives memory back after
// an idle period: --release-memory, 5 s by default).
// Environment: RUNS (5), DURATION s (5), CONNECTIONS (64), WARMUP s (2), SETTLE s (7),
// SERVER_CPU (0), CLIENT_CPU (1), NGINX_CPU (= CLIENT_CPU), BASE_PORT (18401),
// NICE, TSGI_ROOT (default: a copy of this checkout's build), UWSGI, NGINX, PHP_FPM.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exchange } from './lib/clients.mjs';
import { buildLoadgen } from './lib/loadgen.mjs';
import { memory, processTree } from './lib/proc.mjs';
import {
  Processes, background, costOfLoad, firstLine, git, have, interleavedRuns, machine, nginxConfig, phpFpmConf, pinned,
  root, runChild, sleep, tsgiSnapshot,
} from './lib/procs.mjs';
import { commandLine, runKnobs } from './lib/options.mjs';
import { fmt, pct, range, summaries } from './lib/stats.mjs';
import { renderChart } from './lib/svg.mjs';
import { user } from './servers/suite-app.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { flag, opt } = commandLine(import.meta.url);

const env = process.env;
const log = (msg) => process.stderr.write(`${msg}\n`);
function die(msg) {
  log(`bench-suite: ${msg}`);
  process.exit(1);  // the exit handler stops every process and removes the temp dir
}
const { RUNS, DURATION, CONNECTIONS, WARMUP, SERVER_CPU, CLIENT_CPU, BASE_PORT, NICE } = runKnobs(18401, die);
const NGINX_CPU = env.NGINX_CPU ?? CLIENT_CPU;
const UWSGI = env.UWSGI ?? 'uwsgi';
const NGINX = env.NGINX ?? 'nginx';
const PHP_FPM = env.PHP_FPM ?? '/usr/sbin/php-fpm8.2';
const JSON_OUT = flag('json');
const WRITE = !flag('no-write');
const SVG = opt('svg') ?? path.join(here, 'results.svg');

// ---- workloads --------------------------------------------------------------------------

const HELLO = 'Hello, World!\n';
// The twenty fields of a browser's page request; bench/ab-protocols.mjs and
// instructions-protocols.sh send the same file with HEADERS_FILE.
const TWENTY_HEADERS = Object.fromEntries(readFileSync(path.join(here, 'headers20.txt'), 'latin1')
  .split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
const WORKLOADS = {
  hello: { title: 'hello world (GET /, 14 bytes)', path: '/', expect: HELLO },
  '16k': { title: '16 KiB response (GET /16k)', path: '/16k', expect: 'x'.repeat(16384) },
  '1m': { title: '1 MiB response (GET /1m)', path: '/1m', expect: 'x'.repeat(1 << 20) },
  post64k: { title: '64 KiB POST body, its length echoed (POST /echo)', method: 'POST', path: '/echo', body: 'x'.repeat(65536), expect: '65536' },
  // tsgi's body read whole into a Buffer the app keeps (bytes()), where post64k reads it into reused memory.
  'post64k-bytes': { title: '64 KiB POST body read whole with bytes(), its length echoed (POST /echo-bytes)', method: 'POST', path: '/echo-bytes', body: 'x'.repeat(65536), expect: '65536' },
  headers20: { title: 'hello world with 20 request headers', path: '/', headers: TWENTY_HEADERS, expect: HELLO },
  json: { title: 'JSON API route (GET /api/users/42) through Express and Hono', path: '/api/users/42', json: user(42) },
  // TechEmpower's plaintext test: its 13 bytes, requests pipelined 16 deep on each connection.
  plaintext: { title: 'plaintext, HTTP pipelining depth 16 (GET /plaintext, 13 bytes)', path: '/plaintext', expect: 'Hello, World!', pipeline: 16 },
};

// ---- servers ----------------------------------------------------------------------------

const procs = new Processes('bench-suite', { nice: NICE });
const dir = procs.dir;
const P = BASE_PORT;
const sock = (name) => `unix:${dir}/${name}.sock`;
const node = (file, extra) => ({ argv: [process.execPath, path.join(here, 'servers', file)], env: extra });
const UWSGI_COMMON = ['--plugin', 'python3', '--wsgi-file', path.join(here, 'servers/suite_wsgi.py'), '--processes', '1',
  '--disable-logging', '--need-app', '--die-on-term', '--buffer-size', '65535'];
const uwsgi = (flagName, address) => ({ argv: [UWSGI, ...UWSGI_COMMON, flagName, address.replace(/^unix:/, '')], stopSignal: 'SIGINT' });

// family: how the chart colours it; address and protocol: how it is reached directly.
const SERVERS = {
  'tsgi-http': { family: 'tsgi', protocol: 'http', address: `127.0.0.1:${P}`, ...node('suite-tsgi.mjs', { LISTEN: `http://127.0.0.1:${P}` }) },
  'tsgi-uwsgi': { family: 'tsgi', protocol: 'uwsgi', address: sock('tsgi-uwsgi'), ...node('suite-tsgi.mjs', { LISTEN: `uwsgi://${dir}/tsgi-uwsgi.sock` }) },
  'tsgi-scgi': { family: 'tsgi', protocol: 'scgi', address: sock('tsgi-scgi'), ...node('suite-tsgi.mjs', { LISTEN: `scgi://${dir}/tsgi-scgi.sock` }) },
  'tsgi-fastcgi': { family: 'tsgi', protocol: 'fastcgi', address: sock('tsgi-fastcgi'), ...node('suite-tsgi.mjs', { LISTEN: `fastcgi://${dir}/tsgi-fastcgi.sock` }) },
  'express-tsgi': { family: 'tsgi', protocol: 'http', address: `127.0.0.1:${P + 1}`, ...node('api-express.mjs', { SERVER: 'tsgi', PORT: P + 1 }) },
  'hono-tsgi': { family: 'tsgi', protocol: 'http', address: `127.0.0.1:${P + 2}`, ...node('api-hono.mjs', { SERVER: 'tsgi', PORT: P + 2 }) },
  'hono-tsgi-globals': { family: 'tsgi', protocol: 'http', address: `127.0.0.1:${P + 10}`, ...node('api-hono.mjs', { SERVER: 'tsgi', GLOBALS: '1', PORT: P + 10 }) },
  'node-http': { family: 'node', protocol: 'http', address: `127.0.0.1:${P + 3}`, ...node('suite-node.mjs', { LISTEN: `127.0.0.1:${P + 3}` }) },
  fastify: { family: 'node', protocol: 'http', address: `127.0.0.1:${P + 4}`, ...node('fastify.mjs', { PORT: P + 4 }) },
  uws: { family: 'node', protocol: 'http', address: `127.0.0.1:${P + 9}`, ...node('suite-uws.mjs', { PORT: P + 9 }) },
  'express-node': { family: 'node', protocol: 'http', address: `127.0.0.1:${P + 5}`, ...node('api-express.mjs', { SERVER: 'node', PORT: P + 5 }) },
  'hono-node': { family: 'node', protocol: 'http', address: `127.0.0.1:${P + 6}`, ...node('api-hono.mjs', { SERVER: 'node', PORT: P + 6 }) },
  'hono-node-noglobals': { family: 'node', protocol: 'http', address: `127.0.0.1:${P + 11}`, ...node('api-hono.mjs', { SERVER: 'node', GLOBALS: '0', PORT: P + 11 }) },
  'node-fastcgi': { family: 'node', protocol: 'fastcgi', address: sock('nf'), ...node('suite-node.mjs', { SERVER: 'node-fastcgi', LISTEN: `${dir}/nf.sock` }) },
  'uwsgi-http': { family: 'uwsgi', protocol: 'http', address: `127.0.0.1:${P + 7}`, ...uwsgi('--http-socket', `127.0.0.1:${P + 7}`) },
  'uwsgi-uwsgi': { family: 'uwsgi', protocol: 'uwsgi', address: sock('uwsgi-uwsgi'), ...uwsgi('--socket', sock('uwsgi-uwsgi')) },
  'uwsgi-scgi': { family: 'uwsgi', protocol: 'scgi', address: sock('uwsgi-scgi'), ...uwsgi('--scgi-socket', sock('uwsgi-scgi')) },
  'uwsgi-fastcgi': { family: 'uwsgi', protocol: 'fastcgi', address: sock('uwsgi-fastcgi'), ...uwsgi('--fastcgi-socket', sock('uwsgi-fastcgi')) },
  'php-fpm': { family: 'php', protocol: 'fastcgi', address: sock('php'), php: true },
  nginx: { family: 'nginx', protocol: 'http', address: `127.0.0.1:${P + 8}`, nginx: 'ceiling' },
  'nginx-front': { family: 'nginx', nginx: 'front' },
};

// ---- targets: what the client loads, which server is measured, for which workloads -------

const SIMPLE = ['hello', '16k', '1m', 'post64k', 'headers20'];
const NO_POST = ['hello', '16k', '1m', 'headers20'];
const TARGETS = [];
// paths: a route of the target's own for a workload (the same bytes, served another way).
const target = (name, server, workloads, { conns = CONNECTIONS, keepConn = true, via, paths = {} } = {}) => {
  const s = SERVERS[server];
  TARGETS.push({ name, server, workloads, conns, keepConn, via, paths, family: s.family,
    protocol: via ? 'http' : s.protocol, address: via ? `127.0.0.1:${via}` : s.address });
};
target('tsgi http', 'tsgi-http', [...SIMPLE, 'json', 'plaintext', 'post64k-bytes']);
// The 1 MiB reply sealed once (seal()) and sent with sendfile, as nginx sends a file.
target('tsgi http sealed', 'tsgi-http', ['1m'], { paths: { '1m': '/1m-sealed' } });
target('node:http', 'node-http', [...SIMPLE, 'json', 'plaintext']);
target('Fastify', 'fastify', ['hello', 'plaintext']);
target('uWebSockets.js', 'uws', [...SIMPLE, 'json', 'plaintext']);
// Hono both ways on both servers: the global Response replaced (@hono/node-server's
// default, tsgi's --fetch-override-globals) and undici's (tsgi's default).
target('Hono on @hono/node-server', 'hono-node', ['hello', 'json']);
target('Hono on tsgi', 'hono-tsgi', ['hello', 'json']);
target('Hono on tsgi (light Response)', 'hono-tsgi-globals', ['hello', 'json']);
target('Hono on @hono/node-server (undici Response)', 'hono-node-noglobals', ['hello', 'json']);
target('Express on node:http', 'express-node', ['json']);
target('Express on tsgi', 'express-tsgi', ['json']);
target('uWSGI http', 'uwsgi-http', SIMPLE);
target('nginx (ceiling)', 'nginx', NO_POST);
target('tsgi uwsgi', 'tsgi-uwsgi', [...SIMPLE, 'post64k-bytes']);
target('tsgi uwsgi sealed', 'tsgi-uwsgi', ['1m'], { paths: { '1m': '/1m-sealed' } });
target('uWSGI uwsgi', 'uwsgi-uwsgi', SIMPLE);
target('tsgi scgi', 'tsgi-scgi', [...SIMPLE, 'post64k-bytes']);
target('uWSGI scgi', 'uwsgi-scgi', SIMPLE);
target('tsgi fastcgi', 'tsgi-fastcgi', [...SIMPLE, 'post64k-bytes']);
target('node-fastcgi', 'node-fastcgi', SIMPLE);
target('uWSGI fastcgi', 'uwsgi-fastcgi', ['hello']);
// php-fpm's one child serves one kept connection at a time: one connection for
// it, and for tsgi beside it (bench/README.md, FastCGI section).
target('tsgi fastcgi c1', 'tsgi-fastcgi', SIMPLE, { conns: 1 });
target('php-fpm c1', 'php-fpm', SIMPLE, { conns: 1 });
// Through nginx (HTTP/1.1 keep-alive to nginx, which speaks the protocol upstream).
const VIA = [['tsgi-uwsgi', 'tsgi uwsgi'], ['uwsgi-uwsgi', 'uWSGI uwsgi'], ['tsgi-scgi', 'tsgi scgi'], ['uwsgi-scgi', 'uWSGI scgi'],
  ['tsgi-fastcgi', 'tsgi fastcgi'], ['node-fastcgi', 'node-fastcgi'], ['uwsgi-fastcgi', 'uWSGI fastcgi'], ['php-fpm', 'php-fpm']];
VIA.forEach(([server, name], i) => target(`nginx → ${name}`, server, ['hello'], { via: P + 20 + i }));

if (flag('list')) {
  const ws = Object.keys(WORKLOADS);
  process.stdout.write(`| target | conns | ${ws.join(' | ')} |\n|---|---:|${ws.map(() => ':-:|').join('')}\n`);
  for (const t of TARGETS) process.stdout.write(`| ${t.name} | ${t.conns} | ${ws.map((w) => (t.workloads.includes(w) ? '✓' : '')).join(' | ')} |\n`);
  process.exit(0);
}

const wantedW = (opt('workloads') ?? env.WORKLOADS ?? Object.keys(WORKLOADS).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
for (const w of wantedW) if (!WORKLOADS[w]) die(`unknown workload ${w}; workloads: ${Object.keys(WORKLOADS).join(', ')}`);
const wantedT = (opt('targets') ?? env.TARGETS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const pick = (t) => wantedT.length === 0 || wantedT.some((w) => w === t.name || w === t.family
  || (w === 'via-nginx' && t.via) || (w === 'direct' && !t.via));
// Baselines for the ratios are measured whenever their workload is.
const BASELINES = ['node:http', 'nginx (ceiling)'];
const cells = [];
for (const w of wantedW) {
  for (const t of TARGETS) {
    if (t.workloads.includes(w) && (pick(t) || BASELINES.includes(t.name))) cells.push({ ...t, workload: w, id: `${w}: ${t.name}` });
  }
}
if (cells.length === 0) die('no target matches');
const usedServers = new Set(cells.map((c) => c.server));
if (cells.some((c) => c.via)) usedServers.add('nginx-front');

// ---- tools ------------------------------------------------------------------------------

const need = [['taskset', 'util-linux'], ['g++', 'g++'], ['cmake', 'cmake']];
if ([...usedServers].some((s) => s.startsWith('uwsgi-'))) need.push([UWSGI, 'uwsgi-core uwsgi-plugin-python3']);
if ([...usedServers].some((s) => s.startsWith('nginx'))) need.push([NGINX, 'nginx']);
if (usedServers.has('php-fpm')) need.push([PHP_FPM, 'php-fpm']);
for (const [tool, pkg] of need) if (!have(tool)) die(`${tool} is not installed (apt-get install -y ${pkg})`);
for (const mod of ['fastify', 'express', 'hono', '@hono/node-server', 'node-fastcgi', '@trufflesuite/uws-js-unofficial']) {
  if (!existsSync(path.join(root, 'node_modules', mod))) die(`${mod} is missing: npm install`);
}
const LOADGEN = buildLoadgen();
let TSGI_ROOT;
try {
  TSGI_ROOT = tsgiSnapshot('tsgi-snapshot-suite');
} catch (err) {
  die(err.message);
}

// ---- configuration files ------------------------------------------------------------------

const WWW = path.join(dir, 'www');
const PHP_SCRIPT = path.join(WWW, 'suite.php');

function nginxConf(kind) {
  const http = `
  sendfile on;
  tcp_nopush on;
  default_type text/plain;
  client_body_buffer_size 128k;
  client_max_body_size 2m;`;
  if (kind === 'ceiling') {
    return nginxConfig({ dir, by: 'bench/suite.mjs: the ceiling', name: kind, http, servers: `
  server {
    listen ${SERVERS.nginx.address};
    root ${WWW};
    location = / { return 200 "${HELLO.replace('\n', '\\n')}"; }
    location / { }
  }` });
  }
  const servers = VIA.map(([server], i) => {
    const s = SERVERS[server];
    const up = s.address;
    const port = P + 20 + i;
    if (s.protocol === 'fastcgi') {
      // php-fpm's one child would be held by a kept upstream connection: nginx's stock way for it, a connection per request.
      const keep = !s.php;
      return `
  upstream up_${port} {
    server ${up};
    ${keep ? `keepalive ${Math.max(8, CONNECTIONS)};\n    keepalive_requests 100000000;` : ''}
  }
  server {
    listen 127.0.0.1:${port};
    root ${WWW};
    location / {
      include /etc/nginx/fastcgi.conf;
      ${s.php ? `fastcgi_param SCRIPT_FILENAME ${PHP_SCRIPT};` : ''}
      ${keep ? 'fastcgi_keep_conn on;' : ''}
      fastcgi_pass up_${port};
    }
  }`;
    }
    return `
  server {
    listen 127.0.0.1:${port};
    location / {
      include /etc/nginx/${s.protocol}_params;
      ${s.protocol === 'scgi' ? 'scgi_param PATH_INFO $document_uri;  # as the load generator sends it' : ''}
      ${s.protocol}_pass ${up};
    }
  }`;
  });
  return nginxConfig({ dir, by: 'bench/suite.mjs: nginx in front of the binary protocols', name: kind, http, servers: servers.join('\n') });
}

function startServer(name) {
  const s = SERVERS[name];
  let argv = s.argv, childEnv = { ...env, NODE_ENV: 'production', TSGI_ROOT, ...s.env }, cpu = SERVER_CPU;
  if (s.php) {
    const conf = path.join(dir, 'php-fpm.conf');
    writeFileSync(conf, phpFpmConf({ dir, address: s.address, pool: 'suite', by: 'bench/suite.mjs' }));
    argv = [PHP_FPM, '-F', '-R', '-y', conf];  // -F: stay in the foreground (our child); the pool's child inherits the pinning
  } else if (s.nginx) {
    const conf = path.join(dir, `nginx-${s.nginx}.conf`);
    writeFileSync(conf, nginxConf(s.nginx));
    argv = [NGINX, '-p', `${dir}/`, '-c', conf, '-e', path.join(dir, `nginx-${s.nginx}-error.log`)];
    if (s.nginx === 'front') cpu = NGINX_CPU;
  }
  for (const [k, v] of Object.entries(childEnv)) childEnv[k] = String(v);
  const child = procs.start(name, argv, { cpu, env: childEnv, stopSignal: s.stopSignal ?? 'SIGTERM' });
  return { name, ...s, child, cpu };
}

// ---- checking a target --------------------------------------------------------------------

/** The request of a workload, for Node's client and for the load generator. */
function requestOf(c) {
  const w = WORKLOADS[c.workload];
  const params = c.server === 'php-fpm' && !c.via ? { SCRIPT_FILENAME: PHP_SCRIPT, DOCUMENT_ROOT: WWW } : {};
  return { protocol: c.protocol, address: c.address, method: w.method ?? 'GET', path: c.paths?.[c.workload] ?? w.path, headers: w.headers ?? {},
    body: w.body === undefined ? undefined : Buffer.from(w.body), params };
}

/** Status 200, the content type, the exact body (the JSON route: the same object). */
function verify(c, r) {
  const w = WORKLOADS[c.workload];
  const problems = [];
  if (r.status !== 200) problems.push(`status ${r.status}`);
  const type = r.headers['content-type'] ?? '';
  if (!(w.json ? /^application\/json\b/ : /^text\/plain\b/).test(type)) problems.push(`content-type ${JSON.stringify(type)}`);
  const text = r.body.toString('latin1');
  if (w.json) {
    let got;
    try {
      got = JSON.parse(text);
    } catch {
      got = text;
    }
    if (!isDeepStrictEqual(got, w.json)) problems.push(`body ${JSON.stringify(text.slice(0, 200))}`);
  } else if (text !== w.expect) {
    problems.push(`body of ${r.body.length} bytes ${JSON.stringify(text.slice(0, 40))}…`);
  }
  const cl = r.headers['content-length'];
  if (cl !== undefined && Number(cl) !== r.body.length) problems.push(`content-length ${cl} for ${r.body.length} bytes`);
  return problems;
}

async function waitReady(c, child) {
  const until = Date.now() + 20_000;
  let last;
  while (Date.now() < until) {
    if (child.exited) die(`${c.server} died while starting:\n${child.output()}`);
    try {
      const r = await exchange(requestOf(c));
      if (c.via && r.status >= 502 && r.status <= 504) throw new Error(`nginx: ${r.status}`);
      return r;
    } catch (err) {
      last = err;
      await sleep(100);
    }
  }
  die(`${c.id} did not answer at ${c.address}: ${last?.message}\n${child.output()}`);
  return undefined;
}

function loadgenArgs(c) {
  const q = requestOf(c);
  const a = ['-p', c.protocol, '-m', q.method, '-u', q.path, '--expect-length', String(c.expectLength)];
  for (const [k, v] of Object.entries(q.headers)) a.push('-H', `${k}: ${v}`);
  if (q.body) a.push('--body', q.body.toString('latin1'));
  for (const [k, v] of Object.entries(q.params)) a.push('--param', `${k}=${v}`);
  if (!c.keepConn) a.push('--no-keep-conn');
  const w = WORKLOADS[c.workload];
  if (w.pipeline) a.push('--pipeline', String(w.pipeline));
  return a;
}

async function load(c, seconds) {
  const [cmd, argv] = pinned(CLIENT_CPU, [LOADGEN, ...loadgenArgs(c), '-c', String(c.conns), '-d', String(seconds), c.address], NICE);
  const r = await runChild(cmd, argv);
  if (r.code !== 0) die(`loadgen failed on ${c.id} (${r.code}): ${r.err}${r.out.slice(0, 2000)}`);
  const j = JSON.parse(r.out);
  return {
    rps: j.rps, requests: j.requests, connects: j.connects, errors: j.errors.total, errorKinds: j.errors,
    p50: j.latency_us.p50 / 1000, p99: j.latency_us.p99 / 1000,
    clientCpu: j.client_cpu.user_s + j.client_cpu.system_s,
  };
}

// ---- main -----------------------------------------------------------------------------------

const info = {
  ...machine(), nginx: firstLine(NGINX, ['-v']).replace(/^nginx version: /, ''), uwsgi: firstLine(UWSGI, ['--version']),
  php: firstLine(PHP_FPM, ['-v']), gxx: firstLine('g++', ['--version']),
  packages: Object.fromEntries(['fastify', 'express', 'hono', '@hono/node-server', 'node-fastcgi'].map((m) => {
    try {
      return [m, JSON.parse(readFileSync(path.join(root, 'node_modules', m, 'package.json'), 'utf8')).version];
    } catch {
      return [m, 'n/a'];
    }
  })),
};
const loadBefore = os.loadavg();
const busyBefore = await background();
const build = { head: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--short', '--', 'native', 'src') !== '' };
const command = `${env.TSGI_ROOT ? `TSGI_ROOT=${env.TSGI_ROOT} ` : ''}${NICE !== undefined ? `NICE=${NICE} ` : ''}` +
  `${NGINX_CPU !== CLIENT_CPU ? `NGINX_CPU=${NGINX_CPU} ` : ''}RUNS=${RUNS} DURATION=${DURATION} CONNECTIONS=${CONNECTIONS} ` +
  `node bench/suite.mjs --workloads=${wantedW.join(',')}${wantedT.length ? ` --targets=${wantedT.join(',')}` : ''}`;
log(`bench-suite: ${info.nproc} CPUs (${info.cpu}); servers on CPU ${SERVER_CPU}, load generator on CPU ${CLIENT_CPU}, front nginx on CPU ${NGINX_CPU}`);
log(`bench-suite: ${cells.length} targets × ${RUNS} runs of ${DURATION}s (+ ${WARMUP}s warm-up each): about ${Math.ceil(cells.length * (RUNS * (DURATION + 0.3) + WARMUP + 0.5) / 60)} min`);
if (busyBefore > 0.1) log(`bench-suite: warning: ${fmt(busyBefore * 100)}% of a CPU busy before starting (load average ${loadBefore[0].toFixed(2)})`);

mkdirSync(WWW);
writeFileSync(PHP_SCRIPT, readFileSync(path.join(here, 'servers/suite.php')));
writeFileSync(path.join(WWW, '16k'), WORKLOADS['16k'].expect);
writeFileSync(path.join(WWW, '1m'), WORKLOADS['1m'].expect);

const servers = {};
for (const name of usedServers) if (name !== 'nginx-front') servers[name] = startServer(name);
// Upstreams first: nginx in front starts once every server answers.
for (const name of Object.keys(servers)) {
  const c = cells.find((x) => x.server === name && !x.via) ?? { ...TARGETS.find((t) => t.server === name && !t.via), workload: 'hello', id: name };
  await waitReady(c, servers[name].child);
}
if (usedServers.has('nginx-front')) servers['nginx-front'] = startServer('nginx-front');

for (const c of cells) {
  const r = await waitReady(c, (c.via ? servers['nginx-front'] : servers[c.server]).child);
  const problems = verify(c, r);
  if (problems.length) die(`${c.id} answered wrongly: ${problems.join('; ')}`);
  c.expectLength = r.body.length;
  const [cmd, argv] = pinned(CLIENT_CPU, [LOADGEN, ...loadgenArgs(c), '--once', c.address], NICE);
  const once = await runChild(cmd, argv);
  if (once.code !== 0) die(`the load generator finds ${c.id}'s reply invalid: ${once.err.trim()}`);
  log(`bench-suite: ok ${c.id.padEnd(44)} ${c.protocol} ${c.address}: "${r.first}", ${r.body.length}-byte body`);
}
for (const s of Object.values(servers)) s.pids = processTree(s.child.pid);
for (const s of Object.values(servers)) s.idle = memory(s.pids);
if (servers['php-fpm'] && servers['php-fpm'].pids.length < 2) die('php-fpm has no child process');
info.python = /Python version: (\S+)/.exec(Object.values(servers).find((s) => s.family === 'uwsgi')?.child.output() ?? '')?.[1] ?? 'n/a';

await interleavedRuns({
  tag: 'bench-suite', targets: cells, label: (c) => c.id, runs: RUNS, warmup: WARMUP, load, servers: Object.values(servers), log, die,
  measure: async (c) => {
    const r = await costOfLoad({
      load: () => load(c, DURATION), seconds: DURATION, serverPids: servers[c.server].pids,
      nginxPids: c.via ? servers['nginx-front'].pids : [], cpus: { server: SERVER_CPU, client: CLIENT_CPU, nginx: NGINX_CPU },
    });
    if (!(r.requests > 0)) die(`${c.id}: no request completed`);
    return r;
  },
  report: (c, r) => `${c.id.padEnd(44)} ${fmt(r.rps).padStart(7)} req/s  server ${fmt(r.cpuUsPerReq, 1).padStart(7)} µs/req` +
    `${c.via ? `  nginx ${fmt(r.nginxUsPerReq, 1)}` : ''}  cpu ${pct(r.cpuUse)} (others ${pct(r.others)})  client ${pct(r.clientUse)} (others ${pct(r.clientOthers)})` +
    `${r.errors ? `  [errors ${r.errors} ${JSON.stringify(r.errorKinds)}]` : ''}`,
});
const loadAfter = os.loadavg();

const KEYS = ['rps', 'cpuUsPerReq', 'nginxUsPerReq', 'clientUsPerReq', 'connectsPerReq', 'cpuUse', 'clientUse', 'others', 'steal', 'clientOthers', 'p50', 'p99'];
const results = cells.map((c) => ({
  id: c.id, workload: c.workload, name: c.name, server: c.server, family: c.family, protocol: c.protocol, address: c.address,
  via: c.via ? 'nginx' : undefined, conns: c.conns, keepConn: c.keepConn, bodyBytes: c.expectLength,
  ...summaries(c.runs, KEYS),
  errors: c.runs.reduce((a, r) => a + r.errors, 0),
  memory: memory(servers[c.server].pids),
  runs: c.runs,
}));
const nginxFrontMemory = servers['nginx-front'] ? memory(servers['nginx-front'].pids) : undefined;
const SETTLE = Number(env.SETTLE ?? 7);
for (const s of Object.values(servers)) s.loaded = memory(s.pids);
log(`bench-suite: ${SETTLE} s idle, then each server's resident size again`);
await sleep(SETTLE * 1000);
const memoryRows = Object.entries(servers).filter(([name]) => name !== 'nginx-front').map(([name, s]) => {
  const settled = memory(s.pids);
  return { server: name, idleMB: s.idle.rssMB, loadedMB: s.loaded.rssMB, settledMB: settled.rssMB, peakMB: settled.peakMB,
    settledVsIdle: settled.rssMB / s.idle.rssMB };
});
procs.stopAll();

// ---- ratios, targets, output ----------------------------------------------------------------------

const find = (w, name) => results.find((r) => r.workload === w && r.name === name);
for (const r of results) {
  const base = find(r.workload, 'node:http'), ceil = find(r.workload, 'nginx (ceiling)');
  r.vsNode = base && { rps: r.rps.median / base.rps.median, cpu: r.cpuUsPerReq.median / base.cpuUsPerReq.median };
  r.vsNginx = ceil && { rps: r.rps.median / ceil.rps.median, cpu: r.cpuUsPerReq.median / ceil.cpuUsPerReq.median };
}

/** The issue's targets, each from this run's medians: [what, figure, goal, met, the rows it used]. */
function targetChecks() {
  const out = [];
  const check = (what, a, b, key, goal, le) => {
    const ra = find('hello', a), rb = find('hello', b);
    if (!ra || !rb) return;
    const x = key === 'cpu' ? ra.cpuUsPerReq.median / rb.cpuUsPerReq.median : ra.rps.median / rb.rps.median;
    const noisy = [ra, rb].some((r) => r.others.median > 0.2 || r.clientOthers.median > 0.2);
    out.push({ what, figure: x, goal, le, met: le ? x <= goal : x >= goal, noisy,
      detail: key === 'cpu' ? `${fmt(ra.cpuUsPerReq.median, 1)} / ${fmt(rb.cpuUsPerReq.median, 1)} µs`
        : `${fmt(ra.rps.median)} / ${fmt(rb.rps.median)} req/s`,
      cpu: rb.cpuUsPerReq.median / ra.cpuUsPerReq.median });
  };
  check('HTTP hello: server CPU/req, tsgi ÷ node:http', 'tsgi http', 'node:http', 'cpu', 0.4, true);
  check('HTTP hello: server CPU/req, tsgi ÷ nginx return 200', 'tsgi http', 'nginx (ceiling)', 'cpu', 1.3, true);
  check('uwsgi direct: req/s, tsgi ÷ uWSGI', 'tsgi uwsgi', 'uWSGI uwsgi', 'rps', 2);
  check('SCGI direct: req/s, tsgi ÷ uWSGI', 'tsgi scgi', 'uWSGI scgi', 'rps', 2);
  check(`FastCGI direct keep-conn (c${CONNECTIONS}): req/s, tsgi ÷ node-fastcgi`, 'tsgi fastcgi', 'node-fastcgi', 'rps', 3);
  check('FastCGI direct keep-conn (c1): req/s, tsgi ÷ php-fpm', 'tsgi fastcgi c1', 'php-fpm c1', 'rps', 1.5);
  return out;
}
const checks = targetChecks();

/**
 * The payload targets, per workload: server CPU per request of a tsgi row
 * over its peer's, each from this run's medians, where both rows were run.
 */
function payloadChecks() {
  const pairs = [
    ['uwsgi', 'tsgi uwsgi', 'uWSGI uwsgi', 1],
    ['SCGI', 'tsgi scgi', 'uWSGI scgi', 1],
    ['HTTP', 'tsgi http', 'node:http', 0.5],
    ['HTTP', 'tsgi http', 'uWebSockets.js', 1],
    ['HTTP', 'tsgi http', 'nginx (ceiling)', 1.3, ['1m']],
    ['HTTP, sealed body', 'tsgi http sealed', 'node:http', 0.5, ['1m']],
    ['HTTP, sealed body', 'tsgi http sealed', 'uWebSockets.js', 1, ['1m']],
    ['HTTP, sealed body', 'tsgi http sealed', 'nginx (ceiling)', 1.3, ['1m']],
    ['uwsgi, sealed body', 'tsgi uwsgi sealed', 'uWSGI uwsgi', 1, ['1m']],
    ['FastCGI, one connection', 'tsgi fastcgi c1', 'php-fpm c1', 0.5],
  ];
  const out = [];
  for (const w of wantedW) {
    for (const [protocol, a, b, goal, only] of pairs) {
      if (only && !only.includes(w)) continue;
      const ra = find(w, a), rb = find(w, b);
      if (!ra || !rb) continue;
      const x = ra.cpuUsPerReq.median / rb.cpuUsPerReq.median;
      // Over loopback the kernel's work for a segment lands on the sender or
      // the receiver by timing (docs/design.md, "Sealed reply bodies"): the
      // server's CPU with the load generator's beside it.
      const both = (ra.cpuUsPerReq.median + ra.clientUsPerReq.median) / (rb.cpuUsPerReq.median + rb.clientUsPerReq.median);
      out.push({ workload: w, what: `${protocol}: ${a} ÷ ${b}`, figure: x, goal, met: x <= goal, both,
        detail: `${fmt(ra.cpuUsPerReq.median, 1)} / ${fmt(rb.cpuUsPerReq.median, 1)} µs` });
    }
  }
  return out;
}
const payload = payloadChecks();

function tables() {
  const parts = [];
  for (const w of wantedW) {
    const rows = results.filter((r) => r.workload === w);
    if (!rows.length) continue;
    parts.push(`### ${WORKLOADS[w].title}`, '',
      '| target | conns | req/s median (min–max) | server CPU µs/req median (min–max) | nginx µs/req | server CPU use (others; steal) | client CPU use (others) | connects/req | p99 ms | errors | RSS MB | req/s ÷ node:http | CPU/req ÷ node:http | CPU/req ÷ nginx |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      parts.push(`| ${r.name} | ${r.conns}${r.keepConn ? '' : ' (no keep-conn)'} | ${range(r.rps)} | ${range(r.cpuUsPerReq, 1)} | ` +
        `${r.via ? fmt(r.nginxUsPerReq.median, 1) : '–'} | ${pct(r.cpuUse.median)} (${pct(r.others.median)}; ${pct(r.steal.median)}) | ` +
        `${pct(r.clientUse.median)} (${pct(r.clientOthers.median)}) | ${fmt(r.connectsPerReq.median, 2)} | ${fmt(r.p99.median, 2)} | ${r.errors} | ` +
        `${fmt(r.memory.rssMB, 1)} | ${r.vsNode ? `${fmt(r.vsNode.rps, 2)}×` : '–'} | ${r.vsNode ? `${fmt(r.vsNode.cpu, 2)}×` : '–'} | ` +
        `${r.vsNginx ? `${fmt(r.vsNginx.cpu, 2)}×` : '–'} |`);
    }
    parts.push('');
  }
  parts.push(`### Memory: each server's resident size (whole process tree), MB`, '',
    `| server | idle (after start and the checks) | after the last run | ${SETTLE} s later | ${SETTLE} s later ÷ idle | peak |`,
    '|---|---:|---:|---:|---:|---:|');
  for (const m of memoryRows) {
    parts.push(`| ${m.server} | ${fmt(m.idleMB, 1)} | ${fmt(m.loadedMB, 1)} | ${fmt(m.settledMB, 1)} | ${fmt(m.settledVsIdle, 2)}× | ${fmt(m.peakMB, 1)} |`);
  }
  parts.push('');
  if (payload.length) {
    parts.push('### The payload targets (server CPU per request, every workload, medians of this run)', '',
      '| workload | tsgi ÷ peer | this run | goal | | server + client CPU/req |', '|---|---|---:|---:|---|---:|');
    for (const k of payload) {
      parts.push(`| ${k.workload} | ${k.what} | ${fmt(k.figure, 2)}× (${k.detail}) | ≤ ${k.goal}× | ${k.met ? 'met' : `**missed** (${fmt(k.figure / k.goal, 2)}× off)`} | ${fmt(k.both, 2)}× |`);
    }
    parts.push('');
  }
  if (checks.length) {
    parts.push('### The targets (hello world, medians of this run)', '',
      '| target | this run | goal | | server CPU/req, other ÷ tsgi |', '|---|---:|---:|---|---:|');
    for (const k of checks) {
      parts.push(`| ${k.what} | ${fmt(k.figure, 2)}× (${k.detail}) | ${k.le ? '≤' : '≥'} ${k.goal}× | ${k.met ? 'met' : `**missed** (${k.le ? fmt(k.figure / k.goal, 2) : fmt(k.goal / k.figure, 2)}× off)`}${k.noisy ? ', others > 20% of a CPU' : ''} | ${fmt(k.cpu, 2)}× |`);
    }
    parts.push('');
  }
  return parts.join('\n');
}

const md = tables();
const worstOthers = Math.max(...results.map((r) => Math.max(r.others.median, r.clientOthers.median)));
const date = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const svgRel = path.relative(here, SVG);
const section = [
  `## ${date}: the comparison suite (${wantedW.join(', ')})`,
  '',
  `Machine: ${info.nproc} CPUs, ${info.cpu}, Linux ${info.kernel}; node ${info.node}; ${info.nginx}; uWSGI ${info.uwsgi} (Python ${info.python}); ` +
    `${info.php}; ${Object.entries(info.packages).map(([k, v]) => `${k} ${v}`).join(', ')}. ` +
    `Before starting ${fmt(busyBefore * 100)}% of a CPU was busy with other work; load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after.`,
  `tsgi: ${env.TSGI_ROOT ? `TSGI_ROOT ${env.TSGI_ROOT}` : "this checkout's dist/ and build/Release"} (HEAD ${build.head}${build.dirty ? ', with uncommitted changes in native/ or src/' : ''}). ` +
    `Servers pinned to CPU ${SERVER_CPU}; the load generator (\`build-loadgen/tsgi-loadgen\`, the engine of \`tsgi bench\`) to CPU ${CLIENT_CPU}, ` +
    `and the front nginx (one worker) to CPU ${NGINX_CPU}; ${RUNS} interleaved runs of ${DURATION}s per target after ${WARMUP}s of warm-up${NICE !== undefined ? `; nice ${NICE}` : ''}. ` +
    (svgRel.startsWith('..') ? `Chart: written to ${SVG}, not kept.` : `Chart: [${svgRel}](${svgRel}).`),
  '',
  '```',
  command,
  '```',
  '',
  md,
  'server CPU µs/req: user + system time of the server\'s whole process tree during the run ÷ requests completed (php-fpm: master + child; nginx: master + worker; ' +
    '"nginx →" rows: the application server behind nginx, the front nginx\'s own in its column). CPU use: CPU time ÷ wall time; "others": what other processes took of that CPU. ' +
    'connects/req ≈ 1: the server closes after each reply (uwsgi, SCGI, uWSGI over HTTP and FastCGI), ≈ 0: kept connections. ÷ columns: this row\'s median over node:http\'s or nginx\'s in the same workload (CPU: lower is cheaper).' +
    (nginxFrontMemory ? ` Front nginx RSS ${fmt(nginxFrontMemory.rssMB, 1)} MB.` : ''),
  ...(worstOthers > 0.2 ? ['', `**Other processes took up to ${fmt(worstOthers * 100)}% of the server's or the client's CPU in some targets (median over the runs): req/s ratios from those rows are not to be trusted; compare CPU per request.**`] : []),
  '',
].join('\n');

const svg = renderChart({
  title: `tsgi and its peers: server CPU per request and requests/s (${date})`,
  subtitle: `${info.nproc} CPUs (${info.cpu}); server on CPU ${SERVER_CPU}, load on CPU ${CLIENT_CPU}; ${RUNS}×${DURATION}s per target, medians; ${command}`,
  groups: wantedW.filter((w) => results.some((r) => r.workload === w)).map((w) => ({
    title: WORKLOADS[w].title,
    rows: results.filter((r) => r.workload === w).map((r) => ({
      label: r.name, family: r.family, via: Boolean(r.via),
      cpu: r.cpuUsPerReq.median, extra: r.via ? r.nginxUsPerReq.median : 0, rps: r.rps.median, rpsMin: r.rps.min, rpsMax: r.rps.max,
    })),
  })),
});

if (WRITE) {
  const file = path.join(here, 'RESULTS.md');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/\n*$/, '\n\n') + section);
  log('bench-suite: appended to bench/RESULTS.md');
}
if (WRITE || opt('svg')) {  // --svg=FILE writes the chart even with --no-write
  writeFileSync(SVG, svg);
  log(`bench-suite: wrote ${path.relative(process.cwd(), SVG)}`);
}
if (JSON_OUT) {
  process.stdout.write(JSON.stringify({ date, machine: info, command, build, load: { before: loadBefore, after: loadAfter, busyBefore },
    config: { RUNS, DURATION, CONNECTIONS, WARMUP, SETTLE, SERVER_CPU, CLIENT_CPU, NGINX_CPU, NICE }, results, memory: memoryRows, targets: checks, payloadTargets: payload }, null, 2) + '\n');
} else {
  process.stdout.write(`\n${md}\n`);
}
