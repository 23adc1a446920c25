#!/usr/bin/env node
// uwsgi / SCGI benchmark: tsgi vs uWSGI, directly and through nginx.
//
//   RUNS=5 DURATION=5 node bench/run-cgi.mjs [--json] [--no-write] [--targets=direct,nginx] [--calibrate]
//
// Builds the load generator (bench/loadgen, cmake, into build-loadgen/), starts
// one process per server and listener, each pinned to SERVER_CPU (0): tsgi
// (bench/servers/tsgi-cgi.mjs) and uWSGI (uwsgi-core + python3 plugin, one
// process, no master, no threads, bench/servers/hello_wsgi.py), and nginx (one
// worker, on NGINX_CPU, default the server's CPU) in front of both. Every
// target is checked first, warmed up, then measured RUNS times, interleaved,
// with the load generator pinned to CLIENT_CPU (1). Per run: requests/s, the
// server's CPU µs per request (utime + stime of all its processes from
// /proc/PID/stat), nginx's, latency percentiles, and what else used the CPUs.
//
// --targets picks groups (direct, nginx, calibrate) or target names, comma-
// separated; --calibrate runs the loadgen and wrk against tsgi's HTTP listener;
// --syscalls adds one more run per target under `perf stat` (syscalls per
// request of the server, and of nginx).
// Environment: RUNS (5), DURATION s (5), CONNECTIONS (64), WARMUP s (2),
// SERVER_CPU (0), CLIENT_CPU (1), NGINX_CPU (= SERVER_CPU), BASE_PORT (18201),
// NICE, TSGI_ROOT (a tsgi build: dist/ + build/Release/tsgi.node; default: a
// copy of this checkout's, taken at start), UWSGI (uwsgi binary), NGINX (nginx binary).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cgiVars, httpText, rawExchange, scgiPacket, uwsgiPacket } from './lib/clients.mjs';
import { buildLoadgen } from './lib/loadgen.mjs';
import {
  background as backgroundLoad, costOfLoad, git, have, interleavedRuns, nginxConfig, pinned as pinnedNice, runChild,
  sleep, tsgiSnapshot,
} from './lib/procs.mjs';
import { childrenCpuSeconds, memory, processTree } from './lib/proc.mjs';
import { commandLine, runKnobs } from './lib/options.mjs';
import { fmt, pct, range, summaries } from './lib/stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const { args, flag, opt } = commandLine(import.meta.url);

const env = process.env;
const children = [];  // before anything can die(): stopAll() walks it
const { RUNS, DURATION, CONNECTIONS, WARMUP, SERVER_CPU, CLIENT_CPU, BASE_PORT, NICE } = runKnobs(18201, die);
const NGINX_CPU = env.NGINX_CPU ?? SERVER_CPU;
const UWSGI = env.UWSGI ?? 'uwsgi';
const NGINX = env.NGINX ?? 'nginx';
const JSON_OUT = flag('json');
const SYSCALLS = flag('syscalls');
const WRITE = !flag('no-write');
const EXPECT_BODY = 'Hello, World!\n';

function die(msg) {
  process.stderr.write(`bench-cgi: ${msg}\n`);
  stopAll();
  process.exit(1);
}
const log = (msg) => process.stderr.write(`${msg}\n`);
/** argv that pins (and optionally renices) a command. */
const pinned = (cpu, argv) => pinnedNice(cpu, argv, NICE);

// ---- tools -------------------------------------------------------------------------

for (const [tool, pkg] of [['taskset', 'util-linux'], ['g++', 'g++'], ['cmake', 'cmake'], [UWSGI, 'uwsgi-core uwsgi-plugin-python3'], [NGINX, 'nginx'],
  ...(SYSCALLS ? [['perf', 'linux-perf']] : [])]) {
  if (!have(tool)) die(`${tool} is not installed (apt-get install -y ${pkg})`);
}

const LOADGEN = buildLoadgen();

/** The tsgi build to run: TSGI_ROOT, or a copy of this checkout's taken now (a rebuild mid-run cannot touch it). */
function tsgiRoot() {
  try {
    return tsgiSnapshot('tsgi-snapshot');
  } catch (err) {
    return die(err.message);
  }
}
const TSGI_ROOT = tsgiRoot();

// ---- servers -------------------------------------------------------------------------

const dir = mkdtempSync(path.join(os.tmpdir(), 'tsgi-bench-cgi-'));
const P = BASE_PORT;
const HELLO_WSGI = path.join(here, 'servers/hello_wsgi.py');
const UWSGI_COMMON = ['--plugin', 'python3', '--wsgi-file', HELLO_WSGI, '--processes', '1',
  '--disable-logging', '--need-app', '--die-on-term'];

const SERVERS = {
  'tsgi-uwsgi-tcp': { kind: 'tsgi', listen: `uwsgi://127.0.0.1:${P}` },
  'uwsgi-uwsgi-tcp': { kind: 'uwsgi', args: ['--socket', `127.0.0.1:${P + 1}`] },
  'tsgi-uwsgi-unix': { kind: 'tsgi', listen: `uwsgi://${dir}/tsgi-uwsgi.sock` },
  'uwsgi-uwsgi-unix': { kind: 'uwsgi', args: ['--socket', `${dir}/uwsgi-uwsgi.sock`] },
  'tsgi-scgi-tcp': { kind: 'tsgi', listen: `scgi://127.0.0.1:${P + 2}` },
  'uwsgi-scgi-tcp': { kind: 'uwsgi', args: ['--scgi-socket', `127.0.0.1:${P + 3}`] },
  'tsgi-http': { kind: 'tsgi', listen: `http://127.0.0.1:${P + 20}` },
  nginx: { kind: 'nginx' },
};

// Each target: what the client speaks to which address; `server` is the
// application server measured, `via` the front server in between. Pairs
// (same `path`) are compared tsgi vs uWSGI.
const T = (group, side, pathName, server, protocol, address, via) => ({
  name: `${via ? 'nginx → ' : ''}${side} ${pathName.replace(/^nginx /, '')}`, group, side, path: pathName, server, protocol, address, via,
});
const TARGETS = [
  T('direct', 'tsgi', 'uwsgi tcp', 'tsgi-uwsgi-tcp', 'uwsgi', `127.0.0.1:${P}`),
  T('direct', 'uWSGI', 'uwsgi tcp', 'uwsgi-uwsgi-tcp', 'uwsgi', `127.0.0.1:${P + 1}`),
  T('direct', 'tsgi', 'uwsgi unix', 'tsgi-uwsgi-unix', 'uwsgi', `unix:${dir}/tsgi-uwsgi.sock`),
  T('direct', 'uWSGI', 'uwsgi unix', 'uwsgi-uwsgi-unix', 'uwsgi', `unix:${dir}/uwsgi-uwsgi.sock`),
  T('direct', 'tsgi', 'scgi tcp', 'tsgi-scgi-tcp', 'scgi', `127.0.0.1:${P + 2}`),
  T('direct', 'uWSGI', 'scgi tcp', 'uwsgi-scgi-tcp', 'scgi', `127.0.0.1:${P + 3}`),
  T('nginx', 'tsgi', 'nginx uwsgi unix', 'tsgi-uwsgi-unix', 'http', `127.0.0.1:${P + 10}`, 'nginx'),
  T('nginx', 'uWSGI', 'nginx uwsgi unix', 'uwsgi-uwsgi-unix', 'http', `127.0.0.1:${P + 11}`, 'nginx'),
  T('nginx', 'tsgi', 'nginx uwsgi tcp', 'tsgi-uwsgi-tcp', 'http', `127.0.0.1:${P + 12}`, 'nginx'),
  T('nginx', 'uWSGI', 'nginx uwsgi tcp', 'uwsgi-uwsgi-tcp', 'http', `127.0.0.1:${P + 13}`, 'nginx'),
  T('nginx', 'tsgi', 'nginx scgi tcp', 'tsgi-scgi-tcp', 'http', `127.0.0.1:${P + 14}`, 'nginx'),
  T('nginx', 'uWSGI', 'nginx scgi tcp', 'uwsgi-scgi-tcp', 'http', `127.0.0.1:${P + 15}`, 'nginx'),
  { ...T('calibrate', 'tsgi', 'http (loadgen)', 'tsgi-http', 'http', `127.0.0.1:${P + 20}`), client: 'loadgen' },
  { ...T('calibrate', 'tsgi', 'http (wrk)', 'tsgi-http', 'http', `127.0.0.1:${P + 20}`), client: 'wrk' },
];
// nginx upstream of each nginx target
const UPSTREAM = {
  [P + 10]: ['uwsgi', `unix:${dir}/tsgi-uwsgi.sock`], [P + 11]: ['uwsgi', `unix:${dir}/uwsgi-uwsgi.sock`],
  [P + 12]: ['uwsgi', `127.0.0.1:${P}`], [P + 13]: ['uwsgi', `127.0.0.1:${P + 1}`],
  [P + 14]: ['scgi', `127.0.0.1:${P + 2}`], [P + 15]: ['scgi', `127.0.0.1:${P + 3}`],
};

const wanted = (opt('targets') ?? env.TARGETS ?? (flag('calibrate') ? 'calibrate' : 'direct,nginx')).split(',').map((s) => s.trim());
const targets = TARGETS.filter((t) => wanted.includes(t.group) || wanted.includes(t.name));
if (targets.length === 0) die(`no target matches ${wanted.join(',')}; groups: direct, nginx, calibrate`);
if (targets.some((t) => t.client === 'wrk') && !have('wrk')) die('wrk is not installed (apt-get install -y wrk)');

function nginxConf() {
  const params = (proto) => {
    const file = `/etc/nginx/${proto}_params`;
    return existsSync(file) ? `include ${file};` : '';
  };
  const servers = Object.entries(UPSTREAM).map(([port, [proto, addr]]) => `
    server {
      listen 127.0.0.1:${port};
      location / {
        ${params(proto)}
        ${proto === 'scgi' ? 'scgi_param PATH_INFO $document_uri;  # as the load generator sends it' : ''}
        ${proto}_pass ${addr.startsWith('unix:') ? addr : addr};
      }
    }`).join('\n');
  return nginxConfig({ dir, by: 'bench/run-cgi.mjs', servers });
}

function stopAll() {
  for (const c of children) {
    if (c.exited) continue;
    c.stopping = true;
    try { c.kill(c.stopSignal ?? 'SIGTERM'); } catch { /* gone */ }
  }
  try { rmSync(dir, { recursive: true, force: true }); } catch { /* ignore */ }
}
process.on('SIGINT', () => { stopAll(); process.exit(130); });
process.on('exit', stopAll);

function startServer(name) {
  const s = SERVERS[name];
  let argv, cpu = SERVER_CPU, childEnv = { ...env, NODE_ENV: 'production' }, stopSignal = 'SIGTERM';
  if (s.kind === 'tsgi') {
    argv = [process.execPath, path.join(here, 'servers/tsgi-cgi.mjs')];
    childEnv = { ...childEnv, LISTEN: s.listen, TSGI_ROOT };
  } else if (s.kind === 'uwsgi') {
    argv = [UWSGI, ...UWSGI_COMMON, ...s.args];
    stopSignal = 'SIGINT';
  } else {
    writeFileSync(path.join(dir, 'nginx.conf'), nginxConf());
    argv = [NGINX, '-p', `${dir}/`, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'nginx-error.log')];
    cpu = NGINX_CPU;
    stopSignal = 'SIGTERM';
  }
  const [cmd, a] = pinned(cpu, argv);
  const child = spawn(cmd, a, { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  child.on('exit', (code, signal) => {
    if (!child.stopping) log(`bench-cgi: ${name} exited (${signal ?? code}) early:\n${output.slice(-2000)}`);
    child.exited = true;
  });
  child.output = () => output;
  child.stopSignal = stopSignal;
  children.push(child);
  return { name, ...s, child, cpu };
}

// ---- an independent check of each target (not the load generator's code) -------------------

async function fetchOnce(t) {
  if (t.protocol === 'http') return httpText(t.address, '/', 2000);
  const vars = cgiVars({ address: t.address });
  const packet = t.protocol === 'scgi' ? scgiPacket(vars) : uwsgiPacket(vars);
  return (await rawExchange(t.address, packet, 2000)).toString('latin1');
}

/** Status line `HTTP/1.1 200` (uwsgi, HTTP) or `Status: 200` (SCGI), text/plain, the exact body. */
function verify(t, raw) {
  const problems = [];
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { problems: [`no head in ${JSON.stringify(raw.slice(0, 200))}`] };
  const lines = raw.slice(0, end).split('\r\n');
  const body = raw.slice(end + 4);
  const field = (name) => lines.slice(1).concat(t.protocol === 'scgi' ? lines.slice(0, 1) : [])
    .find((l) => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
  if (t.protocol === 'scgi') {
    if (!/^200\b/.test(field('status') ?? '')) problems.push(`no "Status: 200" (first line ${JSON.stringify(lines[0])})`);
  } else if (!/^HTTP\/1\.[01] 200\b/.test(lines[0])) {
    problems.push(`status line ${JSON.stringify(lines[0])}`);
  }
  if (!/^text\/plain\b/.test(field('content-type') ?? '')) problems.push(`content-type ${field('content-type')}`);
  if (body !== EXPECT_BODY) problems.push(`body ${JSON.stringify(body)}`);
  const cl = field('content-length');
  if (cl !== undefined && Number(cl) !== Buffer.byteLength(body, 'latin1')) problems.push(`content-length ${cl}`);
  return { problems, first: lines[0], headBytes: end + 4 };
}

async function waitReady(t, server) {
  const until = Date.now() + 20_000;
  let last;
  while (Date.now() < until) {
    if (server.child.exited) die(`${server.name} died while starting:\n${server.child.output()}`);
    try {
      const raw = await fetchOnce(t);
      // nginx up before its upstream (cannot happen after the wait above, but be sure).
      if (t.via && /^HTTP\/1\.\d 50[234]/.test(raw)) throw new Error(raw.split('\r\n')[0]);
      return raw;
    } catch (err) {
      last = err;
      await sleep(100);
    }
  }
  die(`${t.name} did not answer at ${t.address}: ${last?.message}\n${server.child.output()}`);
}

// ---- clients -------------------------------------------------------------------------------

async function loadgenOnce(t) {
  const [cmd, argv] = pinned(CLIENT_CPU, [LOADGEN, '-p', t.protocol, '--once', '--expect-length', String(EXPECT_BODY.length), t.address]);
  const r = await runChild(cmd, argv);
  if (r.code !== 0) die(`the load generator finds ${t.name}'s reply invalid: ${r.err.trim()}\n${r.out}`);
}

async function load(t, seconds) {
  if (t.client === 'wrk') {
    const wrkCpu0 = childrenCpuSeconds();
    const [cmd, argv] = pinned(CLIENT_CPU, ['wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', `http://${t.address}/`]);
    const r = await runChild(cmd, argv);
    if (r.code !== 0) die(`wrk failed: ${r.err}${r.out}`);
    return { ...parseWrk(r.out), clientCpu: childrenCpuSeconds() - wrkCpu0 };
  }
  const [cmd, argv] = pinned(CLIENT_CPU, [LOADGEN, '-p', t.protocol, '-c', String(CONNECTIONS), '-d', String(seconds),
    '--expect-length', String(EXPECT_BODY.length), t.address]);
  const r = await runChild(cmd, argv);
  if (r.code !== 0) die(`loadgen failed (${r.code}): ${r.err}${r.out}`);
  const j = JSON.parse(r.out);
  return {
    rps: j.rps, requests: j.requests, errors: j.errors.total, errorKinds: j.errors,
    p50: j.latency_us.p50 / 1000, p90: j.latency_us.p90 / 1000, p99: j.latency_us.p99 / 1000, p999: j.latency_us.p99_9 / 1000,
    clientCpu: j.client_cpu.user_s + j.client_cpu.system_s,
  };
}

function ms(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60000 }[m[2]] : NaN;
}
function parseWrk(out) {
  const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : NaN; };
  const pct = (p) => { const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out); return m ? ms(m[1]) : NaN; };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/), requests: num(/(\d+) requests in/),
    p50: pct(50), p90: pct(90), p99: pct(99), p999: NaN,
    errors: (num(/Non-2xx or 3xx responses: (\d+)/) || 0) + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

// ---- syscalls per request (perf stat on the syscall tracepoints) ---------------------------------

const TRACED = ['accept4', 'accept', 'read', 'recvfrom', 'readv', 'write', 'writev', 'sendmsg', 'sendto', 'close',
  'shutdown', 'epoll_wait', 'epoll_pwait', 'epoll_ctl', 'poll', 'getpeername', 'getsockname', 'setsockopt', 'fcntl', 'futex'];

async function perfStat(pids, seconds) {
  const events = [...TRACED.map((s) => `syscalls:sys_enter_${s}`), 'raw_syscalls:sys_enter'].join(',');
  const r = await runChild('perf', ['stat', '-x,', '-e', events, '-p', pids.join(','), '--', 'sleep', String(seconds)]);
  const counts = {};
  for (const line of r.err.split('\n')) {
    const f = line.split(',');
    if (!/^\d+$/.test(f[0] ?? '')) continue;
    counts[f[2] === 'raw_syscalls:sys_enter' ? 'all' : f[2].replace('syscalls:sys_enter_', '')] = Number(f[0]);
  }
  if (!('all' in counts)) die(`perf stat gave nothing (root, or perf_event_paranoid <= 1?):\n${r.err}`);
  return counts;
}

/**
 * One loaded run with perf stat attached to the server (and nginx): the load
 * generator warms up for 1 s, then measures `seconds` while perf counts for
 * the same `seconds` (both started together; spawn jitter is ~1%).
 */
async function syscallsPerRequest(t, seconds) {
  const [cmd, argv] = pinned(CLIENT_CPU, [LOADGEN, '-p', t.protocol, '-c', String(CONNECTIONS), '-w', '1', '-d', String(seconds),
    '--expect-length', String(EXPECT_BODY.length), t.address]);
  const loadP = runChild(cmd, argv);
  await sleep(1000);
  const [srv, ngx] = await Promise.all([perfStat(t.srv.pids, seconds), t.via ? perfStat(servers.nginx.pids, seconds) : undefined]);
  const r = await loadP;
  if (r.code !== 0) die(`loadgen failed (${r.code}): ${r.err}${r.out}`);
  const j = JSON.parse(r.out);
  const per = (c) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v / j.requests]));
  return { rps: j.rps, server: per(srv), nginx: ngx && per(ngx) };
}

function syscallTable(rows) {
  const used = TRACED.filter((s) => rows.some((r) => (r.server[s] ?? 0) > 0.005 || (r.nginx?.[s] ?? 0) > 0.005));
  const out = [`| process (target) | req/s | ${used.join(' | ')} | all |`, `|---|---:|${used.map(() => '---:|').join('')}---:|`];
  for (const r of rows) {
    for (const [who, c] of [['', r.server], ['nginx ', r.nginx]]) {
      if (!c) continue;
      const label = who ? `nginx (${r.name})` : `${r.side} (${r.name})`;
      out.push(`| ${label} | ${fmt(r.rps)} | ${used.map((s) => fmt(c[s] ?? 0, 2)).join(' | ')} | ${fmt(c.all, 2)} |`);
    }
  }
  return out.join('\n');
}

// ---- statistics & output ---------------------------------------------------------------------

function versions() {
  // The first line a tool prints, whichever stream it uses (nginx -v writes to stderr).
  const first = (cmd, a) => {
    const r = spawnSync(cmd, a, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0].trim();
  };
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: os.cpus().length, cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    kernel: os.release(), node: process.version, uwsgi: first(UWSGI, ['--version']),
    nginx: first(NGINX, ['-v']).replace(/^nginx version: /, ''),
    gxx: first('g++', ['--version']),
  };
}

function table(results) {
  const rows = [
    '| target | req/s median (min–max) | server CPU µs/req median (min–max) | nginx CPU µs/req | server CPU use (others; steal) | client CPU use (others) | client µs/req | p50 ms | p99 ms median (min–max) | p99.9 ms | errors | RSS MB end (peak) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    rows.push(`| ${r.name} | ${range(r.rps)} | ${range(r.cpuUsPerReq, 2)} | ${r.via ? fmt(r.nginxUsPerReq.median, 2) : '–'} | ` +
      `${pct(r.cpuUse.median)} (${pct(r.others.median)}; ${pct(r.steal.median)}) | ${pct(r.clientUse.median)} (${pct(r.clientOthers.median)}) | ` +
      `${fmt(r.clientUsPerReq.median, 2)} | ${fmt(r.p50.median, 2)} | ${range(r.p99, 2)} | ${fmt(r.p999.median, 2)} | ${r.errors} | ` +
      `${fmt(r.memory.rssMB, 1)} (${fmt(r.memory.peakMB, 1)}) |`);
  }
  const lines = [rows.join('\n')];
  const pairs = [];
  for (const a of results.filter((r) => r.side === 'tsgi')) {
    const b = results.find((r) => r.side === 'uWSGI' && r.path === a.path);
    if (b) pairs.push([a, b]);
  }
  if (pairs.length) {
    const ratio = ['| path | req/s tsgi / uWSGI | server CPU/req uWSGI / tsgi | server + nginx CPU/req uWSGI / tsgi | target 1.5× (req/s; CPU) |',
      '|---|---:|---:|---:|---|'];
    for (const [a, b] of pairs) {
      const rps = a.rps.median / b.rps.median;
      const cpu = b.cpuUsPerReq.median / a.cpuUsPerReq.median;
      const whole = a.via ? (b.cpuUsPerReq.median + b.nginxUsPerReq.median) / (a.cpuUsPerReq.median + a.nginxUsPerReq.median) : NaN;
      const ok = (x) => (x >= 1.5 ? 'met' : 'not met');
      ratio.push(`| ${a.path} | ${fmt(rps, 2)}× | ${fmt(cpu, 2)}× | ${a.via ? `${fmt(whole, 2)}×` : '–'} | ${ok(rps)}; ${ok(cpu)} |`);
    }
    lines.push(ratio.join('\n'));
  }
  return lines.join('\n\n');
}

// ---- main ----------------------------------------------------------------------------------------

const info = versions();
const loadBefore = os.loadavg();
const background = await backgroundLoad();
const command = `${env.TSGI_ROOT ? `TSGI_ROOT=${env.TSGI_ROOT} ` : ''}${NICE !== undefined ? `NICE=${NICE} ` : ''}${NGINX_CPU !== SERVER_CPU ? `NGINX_CPU=${NGINX_CPU} ` : ''}` +
  `RUNS=${RUNS} DURATION=${DURATION} CONNECTIONS=${CONNECTIONS} node bench/run-cgi.mjs --targets=${wanted.join(',')}${SYSCALLS ? ' --syscalls' : ''}`;
const build = { root: TSGI_ROOT, head: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--short', '--', 'native', 'src') !== '' };
log(`bench-cgi: ${info.nproc} CPUs (${info.cpu}); servers on CPU ${SERVER_CPU}, nginx on CPU ${NGINX_CPU}, client on CPU ${CLIENT_CPU}`);
log(`bench-cgi: tsgi from ${TSGI_ROOT} (checkout at ${build.head}${build.dirty ? ', native/ or src/ modified' : ''}); ${info.uwsgi}; ${info.nginx}`);
if (background > 0.1) log(`bench-cgi: warning: ${fmt(background * 100)}% of a CPU busy before starting (load average ${loadBefore[0].toFixed(2)}); numbers will be noisy`);

// Start the servers the targets need; nginx last, once every upstream answers.
const needed = [...new Set(targets.map((t) => t.server))];
const servers = {};
for (const name of needed) servers[name] = startServer(name);
if (targets.some((t) => t.via)) {
  for (const name of needed) {
    const direct = TARGETS.find((t) => t.server === name && !t.via);
    await waitReady(direct, servers[name]);
  }
  servers.nginx = startServer('nginx');
}

const live = [];
for (const t of targets) {
  const server = servers[t.server];
  const raw = await waitReady(t, t.via ? servers.nginx : server);
  const v = verify(t, raw);
  if (v.problems.length) die(`${t.name} answered wrongly: ${v.problems.join(', ')}\n${raw}`);
  if (t.client !== 'wrk') await loadgenOnce(t);
  log(`bench-cgi: ${t.name.padEnd(26)} at ${t.address}: "${v.first}", ${v.headBytes}-byte head, body "${EXPECT_BODY.trim()}"`);
  live.push({ ...t, srv: server, runs: [] });
}
for (const s of Object.values(servers)) s.pids = processTree(s.child.pid);
// The Python uWSGI embeds (its plugin's libpython, not necessarily the python3 on PATH).
info.python = Object.values(servers).map((s) => /Python version: (\S+)/.exec(s.child.output())?.[1]).find(Boolean) ?? 'n/a';

await interleavedRuns({
  tag: 'bench-cgi', targets: live, runs: RUNS, warmup: WARMUP, load, servers: Object.values(servers), log, die,
  measure: async (t) => {
    const r = await costOfLoad({
      load: () => load(t, DURATION), seconds: DURATION, serverPids: t.srv.pids, nginxPids: t.via ? servers.nginx.pids : [],
      cpus: { server: SERVER_CPU, client: CLIENT_CPU, nginx: NGINX_CPU },
    });
    if (!(r.requests > 0)) die(`${t.name}: no request completed`);
    return r;
  },
  report: (t, r) => `${t.name.padEnd(26)} ${fmt(r.rps).padStart(7)} req/s  server ${fmt(r.cpuUsPerReq, 2).padStart(6)} µs/req` +
    `${t.via ? `  nginx ${fmt(r.nginxUsPerReq, 2)} µs/req` : ''}  p99 ${fmt(r.p99, 2)}ms  server cpu ${pct(r.cpuUse)} ` +
    `(others ${pct(r.others)}, steal ${pct(r.steal)})  client ${pct(r.clientUse)} ${fmt(r.clientUsPerReq, 1)} µs/req (others ${pct(r.clientOthers)})` +
    `${r.errors ? `  [errors ${r.errors}${r.errorKinds ? ` ${JSON.stringify(r.errorKinds)}` : ''}]` : ''}`,
});

const syscallRows = [];
if (SYSCALLS) {
  for (const t of live) {
    if (t.client === 'wrk') continue;  // the same server as the loadgen's calibration target
    log(`bench-cgi: syscalls of ${t.name} (perf stat, ${DURATION}s)`);
    syscallRows.push({ name: t.name, side: t.side, ...(await syscallsPerRequest(t, DURATION)) });
  }
}

const loadAfter = os.loadavg();
const results = live.map((t) => ({
  name: t.name, group: t.group, side: t.side, path: t.path, via: t.via, protocol: t.protocol, address: t.address,
  ...summaries(t.runs, ['rps', 'cpuUsPerReq', 'nginxUsPerReq', 'clientUsPerReq', 'cpuUse', 'nginxUse', 'clientUse', 'others',
    'steal', 'clientOthers', 'p50', 'p99', 'p999']),
  errors: t.runs.reduce((a, r) => a + r.errors, 0),
  memory: memory(t.srv.pids),
  runs: t.runs,
}));
const nginxMemory = servers.nginx ? memory(servers.nginx.pids) : undefined;
stopAll();

const md = table(results) + (syscallRows.length
  ? `\n\nSyscalls per request (\`perf stat\` on the syscall tracepoints of the process, ${DURATION}s under the same load, one extra run):\n\n${syscallTable(syscallRows)}`
  : '');
const busyOthers = Math.max(...results.map((r) => Math.max(r.others.median, r.clientOthers.median)));
const noisy = busyOthers > 0.2
  ? `**Other processes took up to ${fmt(busyOthers * 100)}% of the server's or the client's CPU during the runs (median per target): ` +
    'req/s and latency are bounded by the scheduler, not by the servers; compare CPU per request.**'
  : '';
if (noisy) log(`bench-cgi: ${noisy.replace(/\*\*/g, '')}`);
const clientBound = results.filter((r) => r.clientUse.median + r.clientOthers.median > 0.9 && r.cpuUse.median < 0.9).map((r) => r.name);
const date = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const section = [
  `## ${date}: uwsgi/SCGI hello world, tsgi vs uWSGI (${wanted.join(', ')})`,
  '',
  `Machine: ${info.nproc} CPUs, ${info.cpu}, Linux ${info.kernel}; node ${info.node}; ` +
    `${targets.some((t) => t.side === 'uWSGI') ? `uWSGI ${info.uwsgi} (Python ${info.python}); ` : ''}${targets.some((t) => t.via) ? `${info.nginx}; ` : ''}` +
    `${info.gxx}. ` +
    `Before starting, ${fmt(background * 100)}% of a CPU was busy with other work; load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after` +
    (background > 0.1 ? ' (**the machine was not idle: other processes competed for the CPUs**).' : '.'),
  `tsgi: ${TSGI_ROOT === path.join(root, 'build-bench', 'tsgi-snapshot') ? `this checkout's dist/ and build/Release (HEAD ${build.head}${build.dirty ? ', with uncommitted changes in native/ or src/' : ''})` : `TSGI_ROOT ${path.relative(root, TSGI_ROOT) || TSGI_ROOT} (checkout HEAD ${build.head})`}. ` +
    `Servers pinned to CPU ${SERVER_CPU}, nginx (1 worker) to CPU ${NGINX_CPU}, \`loadgen -c${CONNECTIONS} -d${DURATION}\` to CPU ${CLIENT_CPU}; ` +
    `${RUNS} interleaved runs per target after a ${WARMUP}s warm-up each${NICE !== undefined ? `; servers and client at nice ${NICE}` : ''}.`,
  '',
  '```',
  command,
  '```',
  '',
  md,
  '',
  'server CPU µs/req: user+system time of all the server\'s processes during the run / requests completed (for "nginx →" rows, the application server behind nginx; nginx\'s own in its column). ' +
    'CPU use: CPU time / wall time; "others": time that CPU spent on other processes; "steal": taken by the hypervisor. ' +
    'The last table\'s CPU ratios are capacities: how many more requests per core-second the cheaper server does.' +
    (nginxMemory ? ` nginx RSS ${fmt(nginxMemory.rssMB, 1)} MB (master + worker).` : ''),
  ...(clientBound.length ? ['', `Client-bound (the client's CPU was full, the server's was not, so req/s measures the client): ${clientBound.join(', ')}.`] : []),
  ...(noisy ? ['', noisy] : []),
  '',
].join('\n');

if (WRITE) {
  const file = path.join(here, 'RESULTS.md');
  const old = readFileSync(file, 'utf8');
  writeFileSync(file, old.replace(/\n*$/, '\n\n') + section);
  log(`bench-cgi: appended to ${path.relative(process.cwd(), file) || file}`);
}
if (JSON_OUT) {
  process.stdout.write(JSON.stringify({ date, machine: info, command, build, load: { before: loadBefore, after: loadAfter, backgroundCpus: background },
    config: { RUNS, DURATION, CONNECTIONS, WARMUP, SERVER_CPU, CLIENT_CPU, NGINX_CPU, NICE }, results, syscalls: syscallRows }, null, 2) + '\n');
} else {
  process.stdout.write(`\n${md}\n`);
}
