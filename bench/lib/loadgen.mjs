// Builds the load generator (bench/loadgen/main.cc over the engine of
// `tsgi bench`, native/loadgen/): CMakeLists.txt's tsgi-loadgen target, in
// build-loadgen/ (TSGI_ADDONS=OFF: the core and this program only, no node
// headers; -O2 as before), brought up to date on every call (cmake tracks the
// sources and headers). A standalone binary: no Node process beside the load,
// so its CPU per request is the engine's alone.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.join(bench, '..');

export function buildLoadgen(log = (m) => process.stderr.write(`${m}\n`)) {
  const dir = path.join(root, 'build-loadgen');
  const quiet = { stdio: ['ignore', 'ignore', 'inherit'] };
  if (!existsSync(path.join(dir, 'CMakeCache.txt'))) {
    log('bench: configuring build-loadgen/ (cmake, tsgi-loadgen)');
    execFileSync('cmake', ['-S', root, '-B', dir, '-DTSGI_ADDONS=OFF', '-DCMAKE_BUILD_TYPE=Release',
      '-DCMAKE_CXX_FLAGS_RELEASE=-O2'], quiet);
  }
  execFileSync('cmake', ['--build', dir, '--target', 'tsgi-loadgen', '--parallel', '2'], quiet);
  return path.join(dir, 'tsgi-loadgen');
}
