#!/usr/bin/env node
// FastCGI benchmark: tsgi vs php-fpm vs node-fastcgi, directly and through nginx.
//
//   RUNS=5 DURATION=5 node bench/run-fastcgi.mjs [--json] [--no-write] [--targets=c1,c64,c64-per-conn]
//
// One process per server and listener, pinned to SERVER_CPU (0): tsgi
// (bench/servers/tsgi-cgi.mjs on fastcgi://), php-fpm (a generated pool:
// pm = static, one child; master and child pinned; bench/servers/hello.php),
// node-fastcgi (bench/servers/node-fastcgi.mjs); nginx (one worker, on
// NGINX_CPU, default the client's CPU) in front with `fastcgi_keep_conn on` and
// an upstream `keepalive` pool. The load generator (bench/loadgen, -p fastcgi,
// FCGI_KEEP_CONN) is pinned to CLIENT_CPU (1). Every target is checked first,
// warmed up, then measured RUNS times, interleaved. Groups:
//   c1            keep-conn, 1 connection: all three, direct (unix, TCP) and
//                 through nginx (unix). php-fpm with one child serves one kept
//                 connection at a time, so this is the comparison with it.
//   c64           keep-conn, CONNECTIONS connections: tsgi and node-fastcgi,
//                 direct and through nginx (unix).
//   c64-per-conn  one request per connection (no FCGI_KEEP_CONN),
//                 CONNECTIONS connections, direct (unix): all three.
// Environment: RUNS (5), DURATION s (5), CONNECTIONS (64), WARMUP s (2),
// SERVER_CPU (0), CLIENT_CPU (1), NGINX_CPU (= CLIENT_CPU), BASE_PORT (18301),
// NICE, TSGI_ROOT (default: a copy of this checkout's build), PHP_FPM, NGINX.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cgiVars, fcgiExchange, fcgiPacket, httpText } from './lib/clients.mjs';
import { buildLoadgen } from './lib/loadgen.mjs';
import {
  background as backgroundLoad, costOfLoad, git, have, interleavedRuns, nginxConfig, phpFpmConf,
  pinned as pinnedNice, runChild, sleep, tsgiSnapshot,
} from './lib/procs.mjs';
import { memory, processTree } from './lib/proc.mjs';
import { commandLine, runKnobs } from './lib/options.mjs';
import { fmt, pct, range, summaries } from './lib/stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const { flag, opt } = commandLine(import.meta.url);

const env = process.env;
const children = [];
const dir = mkdtempSync(path.join(os.tmpdir(), 'tsgi-bench-fcgi-'));
const { RUNS, DURATION, CONNECTIONS, WARMUP, SERVER_CPU, CLIENT_CPU, BASE_PORT, NICE } = runKnobs(18301, die);
const NGINX_CPU = env.NGINX_CPU ?? CLIENT_CPU;
const PHP_FPM = env.PHP_FPM ?? '/usr/sbin/php-fpm8.2';
const NGINX = env.NGINX ?? 'nginx';
const JSON_OUT = flag('json');
const WRITE = !flag('no-write');
const EXPECT_BODY = 'Hello, World!\n';
const URI = '/hello.php';  // every server answers any path; php-fpm runs SCRIPT_FILENAME
const AGENT = 'tsgi-loadgen';

function die(msg) {
  process.stderr.write(`bench-fastcgi: ${msg}\n`);
  stopAll();
  process.exit(1);
}
const log = (msg) => process.stderr.write(`${msg}\n`);
/** argv that pins (and optionally renices) a command. */
const pinned = (cpu, argv) => pinnedNice(cpu, argv, NICE);

for (const [tool, pkg] of [['taskset', 'util-linux'], ['g++', 'g++'], ['cmake', 'cmake'], [PHP_FPM, 'php-fpm'], [NGINX, 'nginx']]) {
  if (!have(tool)) die(`${tool} is not installed (apt-get install -y ${pkg})`);
}
if (!existsSync(path.join(root, 'node_modules/node-fastcgi'))) die('node-fastcgi is missing: npm install');
const LOADGEN = buildLoadgen();

/** The tsgi build to run: TSGI_ROOT, or a copy of this checkout's taken now (a rebuild mid-run cannot touch it). */
function tsgiRoot() {
  try {
    return tsgiSnapshot('tsgi-snapshot-fcgi');
  } catch (err) {
    return die(err.message);
  }
}
const TSGI_ROOT = tsgiRoot();

// ---- servers and targets -------------------------------------------------------------

const P = BASE_PORT;
const HELLO_PHP = path.join(dir, 'hello.php');
const SERVERS = {
  'tsgi-unix': { kind: 'tsgi', address: `unix:${dir}/tsgi.sock` },
  'tsgi-tcp': { kind: 'tsgi', address: `127.0.0.1:${P}` },
  'php-unix': { kind: 'php-fpm', address: `unix:${dir}/php.sock` },
  'php-tcp': { kind: 'php-fpm', address: `127.0.0.1:${P + 1}` },
  // nginx keeps its upstream connection open, and php-fpm's only child serves
  // that one connection until it closes: nginx gets a php-fpm of its own.
  'php-nginx': { kind: 'php-fpm', address: `unix:${dir}/php-nginx.sock` },
  'nf-unix': { kind: 'node-fastcgi', address: `unix:${dir}/nf.sock` },
  'nf-tcp': { kind: 'node-fastcgi', address: `127.0.0.1:${P + 2}` },
  nginx: { kind: 'nginx' },
};
const SIDE = { tsgi: 'tsgi', 'php-fpm': 'php-fpm', 'node-fastcgi': 'node-fastcgi' };

// A target: the client speaks `protocol` to `address` with `conns` connections;
// `server` is the application server measured, `via` nginx if in between.
// Targets with the same `path` are compared.
const TARGETS = [];
const add = (group, pathName, server, conns, { keepConn = true, via, port } = {}) => {
  const side = SIDE[SERVERS[server].kind];
  TARGETS.push({
    name: `${via ? 'nginx → ' : ''}${side} ${pathName}`, group, side, path: pathName, server, conns, keepConn, via,
    protocol: via ? 'http' : 'fastcgi', address: via ? `127.0.0.1:${port}` : SERVERS[server].address,
  });
};
const each = (fn) => [['tsgi', 'tsgi'], ['php', 'php-fpm'], ['nf', 'node-fastcgi']].forEach(([s], i) => fn(s, i));
each((s) => add('c1', 'c1 unix', `${s}-unix`, 1));
each((s) => add('c1', 'c1 tcp', `${s}-tcp`, 1));
each((s, i) => add('c1', 'c1 nginx unix', s === 'php' ? 'php-nginx' : `${s}-unix`, 1, { via: 'nginx', port: P + 10 + i }));
for (const s of ['tsgi', 'nf']) add('c64', `c${CONNECTIONS} unix`, `${s}-unix`, CONNECTIONS);
for (const [s, i] of [['tsgi', 0], ['nf', 2]]) add('c64', `c${CONNECTIONS} nginx unix`, `${s}-unix`, CONNECTIONS, { via: 'nginx', port: P + 10 + i });
each((s) => add('c64-per-conn', `c${CONNECTIONS} unix, one request per connection`, `${s}-unix`, CONNECTIONS, { keepConn: false }));

const wanted = (opt('targets') ?? env.TARGETS ?? 'c1,c64,c64-per-conn').split(',').map((s) => s.trim());
const targets = TARGETS.filter((t) => wanted.includes(t.group) || wanted.includes(t.name));
if (targets.length === 0) die(`no target matches ${wanted.join(',')}; groups: c1, c64, c64-per-conn`);

function nginxConf() {
  const servers = targets.filter((t) => t.via).map((t) => {
    const up = SERVERS[t.server].address;
    return `
  upstream up_${t.address.split(':')[1]} {
    server ${up};
    keepalive ${Math.max(8, CONNECTIONS)};
    keepalive_requests 100000000;
  }
  server {
    listen ${t.address};
    root ${dir};
    location / {
      include /etc/nginx/fastcgi.conf;
      fastcgi_keep_conn on;
      fastcgi_pass up_${t.address.split(':')[1]};
    }
  }`;
  });
  return nginxConfig({ dir, by: 'bench/run-fastcgi.mjs', servers: [...new Set(servers)].join('\n') });
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
  let argv, cpu = SERVER_CPU, childEnv = { ...env, NODE_ENV: 'production' };
  const listen = s.address?.replace(/^unix:/, '');
  if (s.kind === 'tsgi') {
    argv = [process.execPath, path.join(here, 'servers/tsgi-cgi.mjs')];
    childEnv = { ...childEnv, LISTEN: `fastcgi://${listen}`, TSGI_ROOT };
  } else if (s.kind === 'node-fastcgi') {
    argv = [process.execPath, path.join(here, 'servers/node-fastcgi.mjs')];
    childEnv = { ...childEnv, LISTEN: listen };
  } else if (s.kind === 'php-fpm') {
    const conf = path.join(dir, `php-fpm-${name}.conf`);
    writeFileSync(conf, phpFpmConf({ dir, address: s.address, pool: 'hello', by: 'bench/run-fastcgi.mjs' }));
    // -F: foreground (the master is our child); -R: allow root. The child php-fpm forks inherits the pinning.
    argv = [PHP_FPM, '-F', '-R', '-y', conf];
  } else {
    writeFileSync(path.join(dir, 'nginx.conf'), nginxConf());
    argv = [NGINX, '-p', `${dir}/`, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'nginx-error.log')];
    cpu = NGINX_CPU;
  }
  const [cmd, a] = pinned(cpu, argv);
  const child = spawn(cmd, a, { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  child.on('exit', (code, signal) => {
    if (!child.stopping) log(`bench-fastcgi: ${name} exited (${signal ?? code}) early:\n${output.slice(-2000)}`);
    child.exited = true;
  });
  child.output = () => output;
  children.push(child);
  return { name, ...s, child, cpu };
}

// ---- an independent check of each target (node's net/http, not the load generator) ------------

/** `HTTP/1.1 200` (through nginx) or a CGI head with `Status: 200` or none (FastCGI); text/plain; the exact body. */
function verify(t, raw) {
  const problems = [];
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { problems: [`no head in ${JSON.stringify(raw.slice(0, 200))}`] };
  const lines = raw.slice(0, end).split('\r\n');
  const body = raw.slice(end + 4);
  const fields = t.via ? lines.slice(1) : lines;
  const field = (name) => fields.find((l) => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
  if (t.via) {
    if (!/^HTTP\/1\.[01] 200\b/.test(lines[0])) problems.push(`status line ${JSON.stringify(lines[0])}`);
  } else if (field('status') !== undefined && !/^200\b/.test(field('status'))) {
    problems.push(`Status: ${field('status')}`);
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
      const raw = t.via ? await httpText(t.address, URI, 2000) : (await fcgiExchange(t.address, fcgiPacket(cgiVars({
        address: t.address, path: URI, params: { SCRIPT_FILENAME: HELLO_PHP, DOCUMENT_ROOT: dir } })), 2000)).toString('latin1');
      if (t.via && /^HTTP\/1\.\d 50[234]/.test(raw)) throw new Error(raw.split('\r\n')[0]);
      return raw;
    } catch (err) {
      last = err;
      await sleep(100);
    }
  }
  die(`${t.name} did not answer at ${t.address}: ${last?.message}\n${server.child.output()}`);
}

// ---- the client ------------------------------------------------------------------------------

/** loadgen arguments: the same request directly (FastCGI) and through nginx (HTTP, which nginx turns into it). */
function loadgenArgs(t) {
  const a = ['-p', t.protocol, '-u', URI, '-H', `User-Agent: ${AGENT}`, '--expect-length', String(EXPECT_BODY.length)];
  if (!t.via) a.push('--param', `DOCUMENT_ROOT=${dir}`, '--param', `SCRIPT_FILENAME=${HELLO_PHP}`);
  if (!t.keepConn) a.push('--no-keep-conn');
  return a;
}

async function loadgenOnce(t) {
  const [cmd, argv] = pinned(CLIENT_CPU, [LOADGEN, ...loadgenArgs(t), '--once', t.address]);
  const r = await runChild(cmd, argv);
  if (r.code !== 0) die(`the load generator finds ${t.name}'s reply invalid: ${r.err.trim()}\n${r.out}`);
}

async function load(t, seconds) {
  const [cmd, argv] = pinned(CLIENT_CPU, [LOADGEN, ...loadgenArgs(t), '-c', String(t.conns), '-d', String(seconds), t.address]);
  const r = await runChild(cmd, argv);
  if (r.code !== 0) die(`loadgen failed (${r.code}): ${r.err}${r.out}`);
  const j = JSON.parse(r.out);
  return {
    rps: j.rps, requests: j.requests, connects: j.connects, errors: j.errors.total, errorKinds: j.errors,
    p50: j.latency_us.p50 / 1000, p90: j.latency_us.p90 / 1000, p99: j.latency_us.p99 / 1000, p999: j.latency_us.p99_9 / 1000,
    clientCpu: j.client_cpu.user_s + j.client_cpu.system_s,
  };
}

// ---- output ----------------------------------------------------------------------------------

function versions() {
  const first = (cmd, a) => {
    const r = spawnSync(cmd, a, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0].trim();
  };
  const info = spawnSync(PHP_FPM, ['-i'], { encoding: 'utf8' }).stdout ?? '';
  let nf = 'n/a';
  try {
    nf = JSON.parse(readFileSync(path.join(root, 'node_modules/node-fastcgi/package.json'), 'utf8')).version;
  } catch { /* missing */ }
  return {
    nproc: os.cpus().length, cpu: /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown',
    kernel: os.release(), node: process.version, php: first(PHP_FPM, ['-v']),
    opcache: /^opcache\.enable => (\w+)/m.exec(info)?.[1] ?? 'n/a',
    nginx: first(NGINX, ['-v']).replace(/^nginx version: /, ''), nodeFastcgi: nf, gxx: first('g++', ['--version']),
  };
}

function table(results) {
  const rows = [
    '| target | conns | req/s median (min–max) | server CPU µs/req median (min–max) | nginx CPU µs/req | server CPU use (others; steal) | client CPU use (others) | client µs/req | connects/req | p50 ms | p99 ms median (min–max) | errors | RSS MB end (peak) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    rows.push(`| ${r.name} | ${r.conns}${r.keepConn ? '' : ' (no keep-conn)'} | ${range(r.rps)} | ${range(r.cpuUsPerReq, 2)} | ${r.via ? fmt(r.nginxUsPerReq.median, 2) : '–'} | ` +
      `${pct(r.cpuUse.median)} (${pct(r.others.median)}; ${pct(r.steal.median)}) | ${pct(r.clientUse.median)} (${pct(r.clientOthers.median)}) | ` +
      `${fmt(r.clientUsPerReq.median, 2)} | ${fmt(r.connectsPerReq.median, 2)} | ${fmt(r.p50.median, 3)} | ${range(r.p99, 2)} | ${r.errors} | ` +
      `${fmt(r.memory.rssMB, 1)} (${fmt(r.memory.peakMB, 1)}) |`);
  }
  const ratio = ['| path | vs | req/s tsgi / other | server CPU/req other / tsgi | server + nginx CPU/req other / tsgi | target (req/s) |',
    '|---|---|---:|---:|---:|---|'];
  for (const a of results.filter((r) => r.side === 'tsgi')) {
    for (const [other, goal] of [['php-fpm', 1.5], ['node-fastcgi', 3]]) {
      const b = results.find((r) => r.side === other && r.path === a.path);
      if (!b) continue;
      const rps = a.rps.median / b.rps.median;
      const cpu = b.cpuUsPerReq.median / a.cpuUsPerReq.median;
      const whole = a.via ? (b.cpuUsPerReq.median + b.nginxUsPerReq.median) / (a.cpuUsPerReq.median + a.nginxUsPerReq.median) : NaN;
      ratio.push(`| ${a.path} | ${other} | ${fmt(rps, 2)}× | ${fmt(cpu, 2)}× | ${a.via ? `${fmt(whole, 2)}×` : '–'} | ≥ ${goal}×: ${rps >= goal ? 'met' : 'not met'} |`);
    }
  }
  return `${rows.join('\n')}\n\n${ratio.join('\n')}`;
}

// ---- main ----------------------------------------------------------------------------------------

writeFileSync(HELLO_PHP, readFileSync(path.join(here, 'servers/hello.php')));
const info = versions();
const loadBefore = os.loadavg();
const background = await backgroundLoad();
const command = `${env.TSGI_ROOT ? `TSGI_ROOT=${env.TSGI_ROOT} ` : ''}${NICE !== undefined ? `NICE=${NICE} ` : ''}${NGINX_CPU !== CLIENT_CPU ? `NGINX_CPU=${NGINX_CPU} ` : ''}` +
  `RUNS=${RUNS} DURATION=${DURATION} CONNECTIONS=${CONNECTIONS} node bench/run-fastcgi.mjs --targets=${wanted.join(',')}`;
const build = { root: TSGI_ROOT, head: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--short', '--', 'native', 'src') !== '' };
log(`bench-fastcgi: ${info.nproc} CPUs (${info.cpu}); servers on CPU ${SERVER_CPU}, nginx on CPU ${NGINX_CPU}, client on CPU ${CLIENT_CPU}`);
log(`bench-fastcgi: tsgi from ${TSGI_ROOT} (HEAD ${build.head}); ${info.php} (opcache ${info.opcache}); node-fastcgi ${info.nodeFastcgi}; ${info.nginx}`);
if (background > 0.1) log(`bench-fastcgi: warning: ${fmt(background * 100)}% of a CPU busy before starting; numbers will be noisy`);

const needed = [...new Set(targets.map((t) => t.server))];
const servers = {};
for (const name of needed) servers[name] = startServer(name);
for (const name of needed) {
  await waitReady({ name, address: SERVERS[name].address }, servers[name]);
}
if (targets.some((t) => t.via)) servers.nginx = startServer('nginx');

const live = [];
for (const t of targets) {
  const server = servers[t.server];
  const raw = await waitReady(t, t.via ? servers.nginx : server);
  const v = verify(t, raw);
  if (v.problems.length) die(`${t.name} answered wrongly: ${v.problems.join(', ')}\n${raw}`);
  await loadgenOnce(t);
  log(`bench-fastcgi: ${t.name.padEnd(34)} at ${t.address}: "${v.first}", ${v.headBytes}-byte head, body "${EXPECT_BODY.trim()}"`);
  live.push({ ...t, srv: server, runs: [] });
}
for (const s of Object.values(servers)) s.pids = processTree(s.child.pid);
for (const name of needed.filter((n) => SERVERS[n].kind === 'php-fpm')) {
  if (servers[name].pids.length < 2) die(`${name}: php-fpm has no child process`);
}

await interleavedRuns({
  tag: 'bench-fastcgi', targets: live, runs: RUNS, warmup: WARMUP, load, servers: Object.values(servers), log, die,
  measure: async (t) => {
    const r = await costOfLoad({
      load: () => load(t, DURATION), seconds: DURATION, serverPids: t.srv.pids, nginxPids: t.via ? servers.nginx.pids : [],
      cpus: { server: SERVER_CPU, client: CLIENT_CPU, nginx: NGINX_CPU },
    });
    if (!(r.requests > 0)) die(`${t.name}: no request completed`);
    return r;
  },
  report: (t, r) => `${t.name.padEnd(34)} ${fmt(r.rps).padStart(7)} req/s  server ${fmt(r.cpuUsPerReq, 2).padStart(6)} µs/req` +
    `${t.via ? `  nginx ${fmt(r.nginxUsPerReq, 2)} µs/req` : ''}  p99 ${fmt(r.p99, 2)}ms  server cpu ${pct(r.cpuUse)} ` +
    `(others ${pct(r.others)}, steal ${pct(r.steal)})  client ${pct(r.clientUse)} (others ${pct(r.clientOthers)})` +
    `${r.errors ? `  [errors ${r.errors} ${JSON.stringify(r.errorKinds)}]` : ''}`,
});

const loadAfter = os.loadavg();
const results = live.map((t) => ({
  name: t.name, group: t.group, side: t.side, path: t.path, via: t.via, protocol: t.protocol, address: t.address,
  conns: t.conns, keepConn: t.keepConn,
  ...summaries(t.runs, ['rps', 'cpuUsPerReq', 'nginxUsPerReq', 'clientUsPerReq', 'connectsPerReq', 'cpuUse', 'nginxUse',
    'clientUse', 'others', 'steal', 'clientOthers', 'p50', 'p99', 'p999']),
  errors: t.runs.reduce((a, r) => a + r.errors, 0),
  memory: memory(t.srv.pids),
  runs: t.runs,
}));
stopAll();

const md = table(results);
const busyOthers = Math.max(...results.map((r) => Math.max(r.others.median, r.clientOthers.median)));
const noisy = busyOthers > 0.2
  ? `**Other processes took up to ${fmt(busyOthers * 100)}% of the server's or the client's CPU during the runs (median per target): compare CPU per request.**`
  : '';
const date = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const section = [
  `## ${date}: FastCGI: tsgi vs php-fpm vs node-fastcgi (${wanted.join(', ')})`,
  '',
  `Machine: ${info.nproc} CPUs, ${info.cpu}, Linux ${info.kernel}; node ${info.node}; ${info.php} (opcache ${info.opcache}); ` +
    `node-fastcgi ${info.nodeFastcgi}; ${info.nginx}; ${info.gxx}. ` +
    `Before starting, ${fmt(background * 100)}% of a CPU was busy with other work; load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after` +
    (background > 0.1 ? ' (**the machine was not idle**).' : '.'),
  `tsgi: ${env.TSGI_ROOT ? `TSGI_ROOT ${env.TSGI_ROOT}` : `this checkout's dist/ and build/Release`} (HEAD ${build.head}${build.dirty ? ', with uncommitted changes in native/ or src/' : ''}). ` +
    `Servers (php-fpm: master + its one child) pinned to CPU ${SERVER_CPU}, nginx (1 worker) to CPU ${NGINX_CPU}, the load generator to CPU ${CLIENT_CPU}; ` +
    `${RUNS} interleaved runs of ${DURATION}s per target after a ${WARMUP}s warm-up each${NICE !== undefined ? `; at nice ${NICE}` : ''}.`,
  '',
  '```',
  command,
  '```',
  '',
  md,
  '',
  'server CPU µs/req: user+system time of all the server\'s processes (php-fpm: master and child) during the run / requests completed; ' +
    'for "nginx →" rows the application server behind nginx, nginx\'s own in its column. connects/req: connections the client opened per request ' +
    '(≈ 0 with kept connections; ≈ 1 when the server closes after each reply). "others": time that CPU spent on other processes; "steal": taken by the hypervisor.',
  ...(noisy ? ['', noisy] : []),
  '',
].join('\n');

if (WRITE) {
  const file = path.join(here, 'RESULTS.md');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/\n*$/, '\n\n') + section);
  log(`bench-fastcgi: appended to ${path.relative(process.cwd(), file) || file}`);
}
if (JSON_OUT) {
  process.stdout.write(JSON.stringify({ date, machine: info, command, build, load: { before: loadBefore, after: loadAfter, backgroundCpus: background },
    config: { RUNS, DURATION, CONNECTIONS, WARMUP, SERVER_CPU, CLIENT_CPU, NGINX_CPU, NICE }, results }, null, 2) + '\n');
} else {
  process.stdout.write(`\n${md}\n`);
}
