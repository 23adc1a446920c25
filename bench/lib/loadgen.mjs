// Builds the load generator (bench/loadgen) into build-bench/loadgen when it
// is missing or older than any of its sources.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function buildLoadgen(log = (m) => process.stderr.write(`${m}\n`)) {
  const dir = path.join(bench, 'loadgen');
  const files = readdirSync(dir).filter((f) => /\.(cc|h)$/.test(f)).map((f) => path.join(dir, f));
  const out = path.join(bench, '..', 'build-bench', 'loadgen');
  const newest = Math.max(...files.map((f) => statSync(f).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs >= newest) return out;
  mkdirSync(path.dirname(out), { recursive: true });
  log('bench: building build-bench/loadgen (g++ -O2)');
  execFileSync('g++', ['-std=c++17', '-O2', '-Wall', '-Wextra', '-pthread', '-o', out, ...files.filter((f) => f.endsWith('.cc'))],
    { stdio: 'inherit' });
  return out;
}
