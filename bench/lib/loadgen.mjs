// Builds the load generator (bench/loadgen/main.cc over the engine of
// `tsgi bench`, native/loadgen/) into build-bench/loadgen when it is missing
// or older than any of its sources. A standalone binary: no Node process
// beside the load, so its CPU per request is the engine's alone.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.join(bench, '..');

export function buildLoadgen(log = (m) => process.stderr.write(`${m}\n`)) {
  const engine = path.join(root, 'native', 'loadgen');
  const poller = process.platform === 'linux' ? 'poller_epoll.cc' : 'poller_kqueue.cc';
  const sources = [
    path.join(bench, 'loadgen', 'main.cc'),
    ...readdirSync(engine).filter((f) => f.endsWith('.cc')).map((f) => path.join(engine, f)),
    ...['connect.cc', 'socket.cc', 'address.cc'].map((f) => path.join(root, 'native', 'net', f)),
    path.join(root, 'native', 'poller', poller),
  ];
  const headers = [engine, path.join(root, 'native', 'net'), path.join(root, 'native', 'poller')]
    .flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.h')).map((f) => path.join(d, f)));
  const out = path.join(root, 'build-bench', 'loadgen');
  const newest = Math.max(...[...sources, ...headers].map((f) => statSync(f).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs >= newest) return out;
  mkdirSync(path.dirname(out), { recursive: true });
  log('bench: building build-bench/loadgen (g++ -O2)');
  execFileSync('g++', ['-std=c++17', '-O2', '-Wall', '-Wextra', '-pthread', '-I', path.join(root, 'native'),
    '-o', out, ...sources], { stdio: 'inherit' });
  return out;
}
