#!/usr/bin/env node
// WebSocket: tsgi against `ws` on node:http and uWebSockets.js, server CPU per message.
//
//   RUNS=5 DURATION=5 node bench/ws.mjs [--scenarios=echo-32B-text,broadcast-1000]
//                                       [--servers=tsgi,ws,uws] [--json] [--no-write]
//
// Starts each server once, pinned to SERVER_CPU (0): bench/servers/ws-tsgi.mjs
// (tsgi's WebSocket replies; skipped, with the reason, while serve() does not
// accept them), ws-node.mjs (the `ws` package on node:http) and ws-uws.mjs
// (uWebSockets.js). Every server is first checked with the `ws` package's
// client (an echo, and a publish reaching another client) and with the load
// generator itself. The load comes from build-loadgen/tsgi-loadgen -p ws (the
// engine of `tsgi bench`) pinned to CLIENT_CPU (1).
//
// Scenarios: echo-32B-text, echo-32B-binary, echo-4KiB (binary) with
// ECHO_CONNECTIONS (200) connections, one message in flight each
// (ECHO_PIPELINE); broadcast-1000: BROADCAST_CONNECTIONS (1000) subscribers
// and one publisher of 32-byte text messages, closed loop with
// BROADCAST_PIPELINE (16) messages not yet delivered to all.
//
// Each scenario × server is warmed up (WARMUP s), then measured RUNS times,
// interleaved over the servers. A measured run is one load generator process:
// it connects and loads for LOADGEN_WARMUP s (1: the handshakes and the first
// messages), then counts for DURATION s; the server's CPU time (utime + stime
// from /proc/PID/stat, all threads) is read at the start and the end of that
// window, so handshakes and closes are left out. Reported per scenario:
// medians (min–max) of messages/s (echo replies, or deliveries), server CPU
// µs per message (broadcast: per delivered and per published message), CPU
// use, p50/p99, errors; and tsgi ÷ ws, tsgi ÷ uWS, uWS ÷ ws. Appends a
// section to bench/RESULTS.md unless --no-write.
//
// Environment: RUNS (5), DURATION s (5), WARMUP s (2), LOADGEN_WARMUP s (1),
// SERVER_CPU (0), CLIENT_CPU (1), BASE_PORT (18640; +0 tsgi, +1 ws, +2 uWS),
// NICE, TSGI_ROOT, ECHO_CONNECTIONS, ECHO_PIPELINE, BROADCAST_CONNECTIONS,
// BROADCAST_PIPELINE.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLoadgen } from './lib/loadgen.mjs';
import { cpuBusy, cpuSeconds, memory } from './lib/proc.mjs';
import { Processes, background, git, interleavedRuns, machine, pinned, root, runChild, sleep, tsgiSnapshot } from './lib/procs.mjs';
import { commandLine, runKnobs, wholeNumber } from './lib/options.mjs';
import { fmt, pct, range, summaries } from './lib/stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { flag, opt } = commandLine(import.meta.url);
const env = process.env;
const log = (msg) => process.stderr.write(`${msg}\n`);
function die(msg) {
  log(`bench-ws: ${msg}`);
  process.exit(1);  // the exit handler stops every process
}
const { RUNS, DURATION, WARMUP, SERVER_CPU, CLIENT_CPU, BASE_PORT, NICE } = runKnobs(18640, die);
const LOADGEN_WARMUP = wholeNumber(env.LOADGEN_WARMUP, 1, die);
const ECHO_CONNECTIONS = wholeNumber(env.ECHO_CONNECTIONS, 200, die);
const ECHO_PIPELINE = wholeNumber(env.ECHO_PIPELINE, 1, die);
const BROADCAST_CONNECTIONS = wholeNumber(env.BROADCAST_CONNECTIONS, 1000, die);
const BROADCAST_PIPELINE = wholeNumber(env.BROADCAST_PIPELINE, 16, die);
const JSON_OUT = flag('json');
const WRITE = !flag('no-write');
const require = createRequire(import.meta.url);
const { WebSocket } = require('ws');

const SCENARIOS = {
  'echo-32B-text': { title: 'echo, 32-byte text messages', args: ['--ws-message-size', '32'], conns: ECHO_CONNECTIONS },
  'echo-32B-binary': { title: 'echo, 32-byte binary messages', args: ['--ws-message-size', '32', '--ws-binary'], conns: ECHO_CONNECTIONS },
  'echo-4KiB': { title: 'echo, 4 KiB binary messages', args: ['--ws-message-size', '4096', '--ws-binary'], conns: ECHO_CONNECTIONS },
  'broadcast-1000': {
    title: `broadcast: one publisher, ${BROADCAST_CONNECTIONS} subscribers, 32-byte text messages`, broadcast: true,
    args: ['--ws-mode', 'subscribe', '--ws-message-size', '32'], conns: BROADCAST_CONNECTIONS,
  },
};
const SERVERS = {
  tsgi: { name: 'tsgi', file: 'ws-tsgi.mjs', port: BASE_PORT },
  ws: { name: 'ws (node:http)', file: 'ws-node.mjs', port: BASE_PORT + 1 },
  uws: { name: 'uWebSockets.js', file: 'ws-uws.mjs', port: BASE_PORT + 2 },
};
const wantedS = (opt('scenarios') ?? Object.keys(SCENARIOS).join(',')).split(',');
const wantedV = (opt('servers') ?? Object.keys(SERVERS).join(',')).split(',');
for (const s of wantedS) if (!SCENARIOS[s]) die(`unknown scenario ${s} (${Object.keys(SCENARIOS).join(', ')})`);
for (const s of wantedV) if (!SERVERS[s]) die(`unknown server ${s} (${Object.keys(SERVERS).join(', ')})`);

const LOADGEN = buildLoadgen(log);
const procs = new Processes('bench-ws', { nice: NICE, log });

// ---- checks -----------------------------------------------------------------------------

/** A `ws` client: resolves once open, rejects with the handshake's failure. */
function client(port) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('no handshake within 3 s')); }, 3000);
    ws.once('open', () => { clearTimeout(timer); resolve(ws); });
    ws.once('unexpected-response', (_req, res) => { clearTimeout(timer); ws.terminate(); reject(new Error(`HTTP ${res.statusCode} instead of 101`)); });
    ws.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

const nextMessage = (ws) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no message within 3 s')), 3000);
  ws.once('message', (data, isBinary) => { clearTimeout(timer); resolve({ data: Buffer.from(data), isBinary }); });
});

/** An echo (text and binary) comes back whole; a publish reaches the other client and not the sender. */
async function verify(port) {
  const a = await client(port);
  const b = await client(port);
  try {
    for (const [payload, binary] of [['hello tsgi', false], [Buffer.from([0, 1, 2, 255]), true]]) {
      const got = nextMessage(a);
      a.send(payload, { binary });
      const m = await got;
      if (m.isBinary !== binary || !m.data.equals(Buffer.from(payload))) throw new Error(`echo of ${binary ? 'binary' : 'text'} came back as ${JSON.stringify(m)}`);
    }
    const got = nextMessage(b);
    let echoed = false;
    a.once('message', () => { echoed = true; });
    a.send('pub:0000000000000000 check');
    const m = await got;
    if (m.data.toString() !== 'pub:0000000000000000 check') throw new Error(`the publish arrived as ${m.data}`);
    await sleep(100);
    if (echoed) throw new Error('the publisher got its own publish back');
  } finally {
    a.terminate();
    b.terminate();
  }
}

async function waitReady(child, port) {
  for (let i = 0; i < 100; i++) {
    if (child.exited) throw new Error(`exited:\n${child.output()}`);
    if (/ready/.test(child.output())) return;
    await sleep(100);
  }
  throw new Error(`not ready on port ${port} within 10 s:\n${child.output()}`);
}

// ---- load -------------------------------------------------------------------------------

function loadArgs(c, seconds, warmup) {
  const depth = c.scenario.broadcast ? BROADCAST_PIPELINE : ECHO_PIPELINE;
  return ['-p', 'ws', '-c', String(c.scenario.conns), '--pipeline', String(depth), ...c.scenario.args,
    '-w', String(warmup), '-d', String(seconds), '--timeout', '10', `127.0.0.1:${c.server.port}`];
}

async function loadgen(c, seconds, warmup) {
  const [cmd, argv] = pinned(CLIENT_CPU, [LOADGEN, ...loadArgs(c, seconds, warmup)], NICE);
  const r = await runChild(cmd, argv);
  if (r.code !== 0) die(`${c.id}: the load generator failed (${r.code}): ${r.err.trim()}`);
  return JSON.parse(r.out);
}

/** One measured run: server CPU over the load generator's counting window only. */
async function measure(c) {
  const pids = [c.server.child.pid];
  const started = performance.now();
  const done = loadgen(c, DURATION, LOADGEN_WARMUP);
  const at = (s) => sleep(Math.max(0, started + s * 1000 - performance.now()));
  await at(LOADGEN_WARMUP);
  const cpu0 = cpuSeconds(pids), sb0 = cpuBusy(SERVER_CPU), cb0 = cpuBusy(CLIENT_CPU), t0 = performance.now();
  await at(LOADGEN_WARMUP + DURATION);
  const cpu1 = cpuSeconds(pids), sb1 = cpuBusy(SERVER_CPU), cb1 = cpuBusy(CLIENT_CPU), t1 = performance.now();
  const j = await done;
  const wall = (t1 - t0) / 1000, cpu = cpu1 - cpu0;
  const client = j.client_cpu.user_s + j.client_cpu.system_s;
  const published = j.ws.published ?? 0;
  return {
    rps: j.rps, messages: j.requests, published, publishedPerS: j.ws.published_per_s ?? 0,
    cpuUsPerMsg: (cpu * 1e6) / j.requests, cpuUsPerPublished: published ? (cpu * 1e6) / published : NaN,
    clientUsPerMsg: (client * 1e6) / j.requests, cpuUse: cpu / wall, clientUse: client / j.elapsed_s,
    others: Math.max(0, (sb1.busy - sb0.busy - cpu) / wall), clientOthers: Math.max(0, (cb1.busy - cb0.busy - client) / wall),
    p50: j.latency_us.p50 / 1000, p99: j.latency_us.p99 / 1000, errors: j.errors.total,
    errorKinds: Object.fromEntries(Object.entries(j.errors).filter(([k, v]) => k !== 'total' && v > 0)),
  };
}

// ---- run --------------------------------------------------------------------------------

const info = machine();
const versions = Object.fromEntries(['ws', '@trufflesuite/uws-js-unofficial'].map((m) => {
  try {
    return [m, JSON.parse(readFileSync(path.join(root, 'node_modules', m, 'package.json'), 'utf8')).version];
  } catch {
    return [m, 'n/a'];
  }
}));
const loadBefore = os.loadavg();
const busyBefore = await background();
const build = { head: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--short', '--', 'native', 'src') !== '' };
const skipped = [];
const servers = [];
for (const key of wantedV) {
  const s = SERVERS[key];
  const envFor = { ...env, PORT: String(s.port) };
  if (key === 'tsgi') {
    try {
      envFor.TSGI_ROOT = tsgiSnapshot('tsgi-snapshot-ws');
    } catch (err) {
      skipped.push(`tsgi: ${err.message}`);
      continue;
    }
  }
  s.child = procs.start(s.name, [process.execPath, path.join(here, 'servers', s.file)], { cpu: SERVER_CPU, env: envFor });
  try {
    await waitReady(s.child, s.port);
    await verify(s.port);
  } catch (err) {
    await procs.stop(s.child);
    if (key !== 'tsgi') die(`${s.name} on port ${s.port}: ${err.message}`);
    // The server side lands separately: until serve() accepts a `websocket` reply, say so and go on.
    skipped.push(`tsgi: serve() does not accept WebSocket replies in this build (${err.message.split('\n')[0]}): not measured`);
    continue;
  }
  servers.push(s);
  log(`bench-ws: ok ${s.name} on 127.0.0.1:${s.port} (echo text and binary, publish to the others)`);
}
for (const m of skipped) log(`bench-ws: ${m}`);
if (servers.length === 0) die('no server to measure');

const cells = [];
for (const sc of wantedS) for (const s of servers) cells.push({ id: `${sc} ${s.name}`, scenarioKey: sc, scenario: SCENARIOS[sc], server: s });
for (const c of cells) {
  // Broadcast: 1,000 handshakes first, and deliveries that take a while on the slower servers.
  const j = c.scenario.broadcast ? await loadgen(c, 2, 1) : await loadgen(c, 0.5, 0);
  if (j.errors.total || !(j.requests > 0)) die(`${c.id}: the load generator's check run failed: ${j.requests} messages, errors ${JSON.stringify(j.errors)}`);
}
const command = `${env.TSGI_ROOT ? `TSGI_ROOT=${env.TSGI_ROOT} ` : ''}${NICE !== undefined ? `NICE=${NICE} ` : ''}RUNS=${RUNS} DURATION=${DURATION} ` +
  `node bench/ws.mjs --scenarios=${wantedS.join(',')} --servers=${wantedV.join(',')}`;
log(`bench-ws: ${info.nproc} CPUs (${info.cpu}); servers on CPU ${SERVER_CPU}, load generator on CPU ${CLIENT_CPU}`);
log(`bench-ws: ${cells.length} targets × ${RUNS} runs of ${LOADGEN_WARMUP}+${DURATION}s (+ ${WARMUP}s warm-up each): about ` +
  `${Math.ceil(cells.length * (RUNS * (DURATION + LOADGEN_WARMUP + 0.5) + WARMUP + 0.5) / 60)} min`);
if (busyBefore > 0.1) log(`bench-ws: warning: ${fmt(busyBefore * 100)}% of a CPU busy before starting (load average ${loadBefore[0].toFixed(2)})`);

for (const sc of wantedS) {
  await interleavedRuns({
    tag: 'bench-ws', targets: cells.filter((c) => c.scenarioKey === sc), label: (c) => c.id, runs: RUNS, warmup: WARMUP,
    load: (c, seconds) => loadgen(c, seconds, 0), servers: servers.map((s) => ({ name: s.name, child: s.child })), log, die,
    measure, settleMs: 300,
    report: (c, r) => `${c.id.padEnd(34)} ${fmt(r.rps).padStart(8)} msg/s  server ${fmt(r.cpuUsPerMsg, 2).padStart(6)} µs/msg` +
      `${c.scenario.broadcast ? `  ${fmt(r.publishedPerS, 1)} pub/s, ${fmt(r.cpuUsPerPublished, 0)} µs/pub` : ''}` +
      `  cpu ${pct(r.cpuUse)} (others ${pct(r.others)})  client ${pct(r.clientUse)} (others ${pct(r.clientOthers)})` +
      `${r.errors ? `  [errors ${r.errors} ${JSON.stringify(r.errorKinds)}]` : ''}`,
  });
}
const loadAfter = os.loadavg();
const KEYS = ['rps', 'publishedPerS', 'cpuUsPerMsg', 'cpuUsPerPublished', 'clientUsPerMsg', 'cpuUse', 'clientUse', 'others', 'clientOthers', 'p50', 'p99'];
const results = cells.map((c) => ({
  id: c.id, scenario: c.scenarioKey, server: c.server.name, key: Object.keys(SERVERS).find((k) => SERVERS[k] === c.server),
  ...summaries(c.runs, KEYS), errors: c.runs.reduce((a, r) => a + r.errors, 0), memory: memory([c.server.child.pid]), runs: c.runs,
}));
procs.stopAll();

// ---- output -----------------------------------------------------------------------------

const find = (sc, key) => results.find((r) => r.scenario === sc && r.key === key);
function tables() {
  const parts = [];
  for (const sc of wantedS) {
    const rows = results.filter((r) => r.scenario === sc);
    const b = SCENARIOS[sc].broadcast;
    parts.push(`### ${sc}: ${SCENARIOS[sc].title}`, '',
      `| server | ${b ? 'delivered' : 'messages'}/s median (min–max) | ${b ? 'published/s | ' : ''}server CPU µs/${b ? 'delivered' : 'message'} median (min–max) | ` +
      `${b ? 'server CPU µs/published | ' : ''}server CPU use (others) | client CPU use (others) | client µs/msg | p50 ms | p99 ms | errors | RSS MB |`,
      `|---|---:|${b ? '---:|' : ''}---:|${b ? '---:|' : ''}---:|---:|---:|---:|---:|---:|---:|`);
    for (const r of rows) {
      parts.push(`| ${r.server} | ${range(r.rps)} | ${b ? `${fmt(r.publishedPerS.median, 1)} | ` : ''}${range(r.cpuUsPerMsg, 2)} | ` +
        `${b ? `${fmt(r.cpuUsPerPublished.median, 0)} | ` : ''}${pct(r.cpuUse.median)} (${pct(r.others.median)}) | ` +
        `${pct(r.clientUse.median)} (${pct(r.clientOthers.median)}) | ${fmt(r.clientUsPerMsg.median, 2)} | ${fmt(r.p50.median, 2)} | ` +
        `${fmt(r.p99.median, 2)} | ${r.errors} | ${fmt(r.memory.rssMB, 1)} |`);
    }
    parts.push('');
  }
  parts.push('### Ratios (medians of this run; CPU per message: lower is cheaper)', '',
    '| scenario | tsgi ÷ ws, CPU/msg (goal ≤ 0.5×) | tsgi ÷ uWS, CPU/msg (goal ≤ 1.3×) | uWS ÷ ws, CPU/msg | tsgi ÷ ws, msg/s | tsgi ÷ uWS, msg/s | uWS ÷ ws, msg/s |',
    '|---|---:|---:|---:|---:|---:|---:|');
  const ratio = (a, b, k) => (a && b ? `${fmt(a[k].median / b[k].median, 2)}×` : '–');
  for (const sc of wantedS) {
    const t = find(sc, 'tsgi'), w = find(sc, 'ws'), u = find(sc, 'uws');
    parts.push(`| ${sc} | ${ratio(t, w, 'cpuUsPerMsg')} | ${ratio(t, u, 'cpuUsPerMsg')} | ${ratio(u, w, 'cpuUsPerMsg')} | ` +
      `${ratio(t, w, 'rps')} | ${ratio(t, u, 'rps')} | ${ratio(u, w, 'rps')} |`);
  }
  parts.push('');
  return parts.join('\n');
}

const md = tables();
const worstOthers = Math.max(...results.map((r) => Math.max(r.others.median, r.clientOthers.median)));
const date = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const section = [
  `## ${date}: WebSocket, tsgi vs ws vs uWebSockets.js (${wantedS.join(', ')})`,
  '',
  `Machine: ${info.nproc} CPUs, ${info.cpu}, Linux ${info.kernel}; node ${info.node}; ws ${versions.ws}; ` +
    `uWebSockets.js ${versions['@trufflesuite/uws-js-unofficial']} (@trufflesuite/uws-js-unofficial). ` +
    `Before starting ${fmt(busyBefore * 100)}% of a CPU was busy with other work; load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after.`,
  `tsgi: ${servers.some((s) => s.name === 'tsgi') ? `${env.TSGI_ROOT ? `TSGI_ROOT ${env.TSGI_ROOT}` : "this checkout's dist/ and build/Release"} (HEAD ${build.head}${build.dirty ? ', with uncommitted changes in native/ or src/' : ''})` : 'not measured'}. ` +
    `Servers pinned to CPU ${SERVER_CPU}, one process each; the load generator (\`build-loadgen/tsgi-loadgen -p ws\`) to CPU ${CLIENT_CPU}; ` +
    `echo: ${ECHO_CONNECTIONS} connections, ${ECHO_PIPELINE} message${ECHO_PIPELINE === 1 ? '' : 's'} in flight each; broadcast: ${BROADCAST_CONNECTIONS} subscribers and one publisher, ` +
    `closed loop with ${BROADCAST_PIPELINE} messages not yet delivered to all; ${RUNS} interleaved runs of ${DURATION}s (after ${LOADGEN_WARMUP}s of load in the same run, not counted) per target, after ${WARMUP}s of warm-up${NICE !== undefined ? `; nice ${NICE}` : ''}.`,
  ...skipped.map((m) => `${m}.`),
  '',
  '```',
  command,
  '```',
  '',
  md,
  'server CPU µs/message: the server process\'s user + system time over the counted window ÷ the messages the load generator counted in it (echo replies; broadcast: deliveries, and per published message). ' +
    'CPU use: CPU time ÷ wall time; "others": what other processes took of that CPU. Latency: echo, send to reply; broadcast, the publisher\'s send to each delivery.',
  ...(worstOthers > 0.2 ? ['', `**Other processes took up to ${fmt(worstOthers * 100)}% of the server's or the client's CPU in some targets (median over the runs): messages/s is the scheduler's there; compare CPU per message.**`] : []),
  '',
].join('\n');

if (WRITE) {
  const file = path.join(here, 'RESULTS.md');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/\n*$/, '\n\n') + section);
  log('bench-ws: appended to bench/RESULTS.md');
}
if (JSON_OUT) {
  process.stdout.write(JSON.stringify({ date, machine: info, versions, command, build, skipped,
    config: { RUNS, DURATION, WARMUP, LOADGEN_WARMUP, SERVER_CPU, CLIENT_CPU, NICE, ECHO_CONNECTIONS, ECHO_PIPELINE, BROADCAST_CONNECTIONS, BROADCAST_PIPELINE },
    results }, null, 2) + '\n');
} else {
  process.stdout.write(`\n${md}\n`);
}
