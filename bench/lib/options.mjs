// What every bench script reads from its command line and environment:
// `--flag` and `--name=value`, --help (the script's leading comment), whole
// numbers from the environment, and the knobs every run shares.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * This process's flags and `--name=value` options. --help or -h prints the
 * script's leading comment block (after the #! line) and exits.
 */
export function commandLine(scriptUrl) {
  const args = process.argv.slice(2);
  const flag = (name) => args.includes(`--${name}`);
  const opt = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  if (flag('help') || flag('h')) {
    const lines = readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n').slice(1);
    const end = lines.findIndex((l) => !l.startsWith('//'));
    process.stdout.write(lines.slice(0, end === -1 ? lines.length : end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    process.exit(0);
  }
  return { args, flag, opt };
}

/** `v` as a whole number (`dflt` when unset or empty); anything else goes to `die`. */
export function wholeNumber(v, dflt, die) {
  const n = v === undefined || v === '' ? dflt : Number(v);
  if (!Number.isInteger(n) || n < 0) die(`not a whole number: ${v}`);
  return n;
}

/**
 * The environment every run reads: RUNS, DURATION (s), CONNECTIONS, WARMUP
 * (s), SERVER_CPU, CLIENT_CPU, BASE_PORT, NICE (a whole number, or unset).
 */
export function runKnobs(basePort, die) {
  const env = process.env;
  const NICE = env.NICE ? Number(env.NICE) : undefined;
  if (NICE !== undefined && !Number.isInteger(NICE)) die(`NICE is not a whole number: ${env.NICE}`);
  return {
    RUNS: wholeNumber(env.RUNS, 5, die),
    DURATION: wholeNumber(env.DURATION, 5, die),
    CONNECTIONS: wholeNumber(env.CONNECTIONS, 64, die),
    WARMUP: wholeNumber(env.WARMUP, 2, die),
    SERVER_CPU: env.SERVER_CPU ?? '0',
    CLIENT_CPU: env.CLIENT_CPU ?? '1',
    BASE_PORT: wholeNumber(env.BASE_PORT, basePort, die),
    NICE,
  };
}
