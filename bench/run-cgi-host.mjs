#!/usr/bin/env node
// CGI benchmark (docs/cgi.md).
//
//   RUNS=3 DURATION=5 node bench/run-cgi-host.mjs [--no-write]
//
// 1. Hosting a shell CGI script: tsgi --http --cgi-map vs nginx + fcgiwrap on
//    the same script. Each server (tsgi; nginx, one worker, master off, and
//    fcgiwrap -c 4) is pinned to SERVER_CPU (0), wrk to CLIENT_CPU (1); runs
//    interleaved, medians reported.
// 2. An app in run-as-CGI mode (tsgi --cgi through the launcher) under
//    lighttpd mod_cgi, against a shell script and `node -e` hello under the
//    same lighttpd: the cost is the process start-up per request, so wrk -c1
//    (one request at a time) and its mean latency is the figure.
// Environment: RUNS (3), DURATION s (5), CONNECTIONS (8), SERVER_CPU (0), CLIENT_CPU (1).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { interleavedRuns } from './lib/procs.mjs';
import { median } from './lib/stats.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.RUNS ?? 3);
const DURATION = Number(process.env.DURATION ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 8);
const SERVER_CPU = process.env.SERVER_CPU ?? '0';
const CLIENT_CPU = process.env.CLIENT_CPU ?? '1';
const write = !process.argv.includes('--no-write');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsgi-bench-cgi-'));
fs.chmodSync(dir, 0o755);
const bin = path.join(dir, 'cgi-bin');
fs.mkdirSync(bin);
fs.writeFileSync(path.join(bin, 'hello.sh'), '#!/bin/sh\nprintf \'Content-Type: text/plain\\n\\nhello\\n\'\n', { mode: 0o755 });
fs.writeFileSync(path.join(dir, 'app.js'),
  "module.exports = (req) => ({ headers: { 'Content-Type': 'text/plain' }, body: 'hello\\n' });\n");
fs.writeFileSync(path.join(bin, 'app.cgi'), `#!/usr/bin/env -S ${process.execPath} ${path.join(ROOT, 'bin', 'tsgi')} --cgi\n../app.js\n`, { mode: 0o755 });
fs.writeFileSync(path.join(bin, 'node.cgi'),
  `#!${process.execPath}\nprocess.stdout.write('Content-Type: text/plain\\r\\n\\r\\nhello\\n');\n`, { mode: 0o755 });

const children = [];
process.on('exit', () => { for (const c of children) { try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ } } });

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function start(cmd, args, opts = {}) {
  const c = spawn('taskset', ['-c', SERVER_CPU, cmd, ...args], { stdio: 'ignore', detached: true, ...opts });
  children.push(c);
  return c;
}

async function waitFor(port) {
  for (let i = 0; i < 300; i++) {
    const ok = await new Promise((r) => { const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); }); s.on('error', () => r(false)); });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nothing on port ${port}`);
}

function check(url) {
  const out = execFileSync('curl', ['-s', url]).toString();
  if (out !== 'hello\n') throw new Error(`${url} answered ${JSON.stringify(out)}`);
}

function wrk(url, connections) {
  const out = execFileSync('taskset', ['-c', CLIENT_CPU, 'wrk', '-t1', `-c${connections}`, `-d${DURATION}s`, '--latency', url]).toString();
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const lat = /Latency\s+([\d.]+)(us|ms|s)/.exec(out);
  const ms = Number(lat[1]) * (lat[2] === 'us' ? 0.001 : lat[2] === 's' ? 1000 : 1);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return { rps, ms, non2xx: errors ? Number(errors[1]) : 0 };
}


// ---- servers ----
const tsgiPort = await freePort();
start(process.execPath, [path.join(ROOT, 'bin', 'tsgi'), '--http', `127.0.0.1:${tsgiPort}`, '--cgi-map', `/cgi-bin=${bin}`,
  '--cgi-max-procs', '256']);
const sock = path.join(dir, 'fcgiwrap.sock');
start('/usr/sbin/fcgiwrap', ['-c', '4', '-s', `unix:${sock}`]);
fs.copyFileSync('/etc/nginx/fastcgi_params', path.join(dir, 'fastcgi_params'));
const nginxPort = await freePort();
const lightPort = await freePort();
fs.writeFileSync(path.join(dir, 'nginx.conf'), `master_process off; worker_processes 1; daemon off;
error_log ${dir}/nginx-error.log; pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http { access_log off;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `${k}_temp_path ${dir}/nginx-${k};`).join(' ')}
  server { listen 127.0.0.1:${nginxPort};
    location /cgi-bin/ { include fastcgi_params; fastcgi_param SCRIPT_FILENAME ${dir}$fastcgi_script_name; fastcgi_pass unix:${sock}; } } }
`);
for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 10));
start('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir]);
fs.writeFileSync(path.join(dir, 'lighttpd.conf'), `server.document-root = "${dir}"
server.bind = "127.0.0.1"
server.port = ${lightPort}
server.errorlog = "${dir}/lighttpd-error.log"
server.modules += ( "mod_alias", "mod_cgi" )
alias.url = ( "/cgi-bin/" => "${bin}/" )
$HTTP["url"] =~ "^/cgi-bin/" { cgi.assign = ( "" => "" ) }
`);
start('lighttpd', ['-D', '-f', path.join(dir, 'lighttpd.conf')]);
await Promise.all([waitFor(tsgiPort), waitFor(nginxPort), waitFor(lightPort)]);

const hostTargets = [
  { name: 'tsgi --cgi-map, sh script', url: `http://127.0.0.1:${tsgiPort}/cgi-bin/hello.sh`, c: CONNECTIONS },
  { name: 'nginx + fcgiwrap -c 4, sh script', url: `http://127.0.0.1:${nginxPort}/cgi-bin/hello.sh`, c: CONNECTIONS },
];
const runTargets = [
  { name: 'lighttpd mod_cgi, sh script', url: `http://127.0.0.1:${lightPort}/cgi-bin/hello.sh`, c: 1 },
  { name: 'lighttpd mod_cgi, node -e hello (#!node)', url: `http://127.0.0.1:${lightPort}/cgi-bin/node.cgi`, c: 1 },
  { name: 'lighttpd mod_cgi, tsgi --cgi app (launcher)', url: `http://127.0.0.1:${lightPort}/cgi-bin/app.cgi`, c: 1 },
];
const all = [...hostTargets, ...runTargets];
for (const t of all) check(t.url);
// wrk runs DURATION s, the warm-up too (a short DURATION is fine).
await interleavedRuns({
  tag: 'bench-cgi-host', targets: all, runs: RUNS, warmup: DURATION, load: (t) => wrk(t.url, t.c), measure: (t) => wrk(t.url, t.c),
  log: (msg) => process.stderr.write(`${msg}\n`), settleMs: 0,
});

const load = fs.readFileSync('/proc/loadavg', 'utf8').trim();
const rows = all.map((t) => {
  const xs = t.runs;
  return `| ${t.name} | ${t.c} | ${median(xs.map((x) => x.rps)).toFixed(0)} | ${median(xs.map((x) => x.ms)).toFixed(2)} | ${xs.map((x) => x.rps.toFixed(0)).join(', ')} | ${xs.reduce((a, x) => a + x.non2xx, 0)} |`;
});
const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).stdout.toString().trim();
const text = [
  `## ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC: CGI (host: tsgi vs nginx + fcgiwrap; run-as-CGI under lighttpd)`,
  '',
  `tsgi ${commit}, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0].model}); servers on CPU ${SERVER_CPU}, wrk -t1 on CPU ${CLIENT_CPU};`,
  `${RUNS} interleaved runs of ${DURATION} s after a warm-up; load average at the end: ${load}.`,
  `Command: \`RUNS=${RUNS} DURATION=${DURATION} CONNECTIONS=${CONNECTIONS} node bench/run-cgi-host.mjs\``,
  '',
  '| target | wrk -c | req/s (median) | mean latency ms (median) | req/s per run | non-2xx |',
  '|---|---|---|---|---|---|',
  ...rows,
  '',
].join('\n');
process.stdout.write(text + '\n');
if (write) fs.appendFileSync(path.join(ROOT, 'bench', 'RESULTS.md'), '\n' + text);
for (const c of children) { try { process.kill(-c.pid, 'SIGTERM'); } catch { /* gone */ } }
fs.rmSync(dir, { recursive: true, force: true });
process.exit(0);
