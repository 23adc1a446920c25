// `tsgi bench`: load any server over HTTP/1.1, uwsgi, SCGI, FastCGI or WebSocket with
// the native engine (native/loadgen/) and report requests/s, latency
// percentiles, errors by kind, bytes and the client's own CPU. docs/bench.md.
import * as fs from 'node:fs';
import { loadgenBinding, type NativeBenchOptions, type NativeBenchProgress } from '../native/load.js';
import { compareRuns } from './bench-compare.js';

type Protocol = NativeBenchOptions['protocol'];
const PROTOCOLS: readonly Protocol[] = ['http', 'uwsgi', 'scgi', 'fastcgi', 'ws'];

export interface BenchArgs {
  options: NativeBenchOptions;
  json: boolean;
  help: boolean;
}

/** The engine's JSON (native/loadgen/engine.cc, to_json). */
export interface BenchResult {
  protocol: Protocol;
  target: string;
  method: string;
  path: string;
  connections: number;
  threads: number;
  mode: 'open' | 'closed';
  rate: number;
  elapsed_s: number;
  stopped: boolean;
  requests: number;
  rps: number;
  connects: number;
  bytes_out: number;
  bytes_in: number;
  errors: Record<string, number> & { total: number };
  /** The replies counted as `status` errors, by the status they had ("404": 12). */
  status_seen: Record<string, number>;
  latency_us: { count: number; min: number; mean: number; p50: number; p90: number; p99: number; p99_9: number; max: number };
  per_second: Array<[number, number]>;
  client_cpu: { user_s: number; system_s: number; use: number; us_per_request: number };
  /** WebSocket runs: "requests" counts messages (echo replies, or deliveries in subscribe mode). */
  ws?: { mode: 'echo' | 'subscribe'; message_size: number; binary: boolean; prefix?: string; published?: number;
    published_per_s?: number; subscribers?: number };
}

export const BENCH_HELP = `Usage: tsgi bench [options] TARGET [PATH]

Loads a server (tsgi or any other) and reports requests/s, latency percentiles
(p50/p90/p99/p99.9 from a log-linear histogram), errors by kind, bytes and the
client's CPU. Every reply is checked (status, framing, body length) before it
counts. The load runs on native threads, one event loop each.

TARGET   host:port, [v6]:port, :port, /path/app.sock, unix:/path, @abstract, or the
         same with a scheme, which sets the protocol: fastcgi:///run/php.sock,
         http://127.0.0.1:8000/index.html, ws://127.0.0.1:8000/chat (a path after a
         TCP address is PATH)
PATH     the request target, query included (default /)

Options:
  -p, --protocol P          http (default), uwsgi, scgi, fastcgi or ws (WebSocket, below)
  -c, --connections N       concurrent connections (64)
  -d, --duration T          how long to measure: 10s (default), 500ms, 2m, or seconds
  -n, --requests N          stop after N requests instead (or as well, whichever first)
  -t, --threads N           event loops (threads), each with its share of the connections (1)
  -R, --rate R              open loop: R requests/s spread over the connections, latency
                            measured from when each request was due (no coordinated
                            omission); without it, closed loop: as fast as replies come
      --pipeline N          HTTP: up to N requests in flight per connection (1); ws echo:
                            messages in flight per connection; ws subscribe: published
                            messages not yet delivered to every subscriber
      --multiplex N         FastCGI: up to N requests in flight per connection, request
                            ids 1..N (1; the server must multiplex, as tsgi does)
      --no-keep-conn        FastCGI: no FCGI_KEEP_CONN, one request per connection
  -w, --warmup T            load this long first, not counted (0)
      --timeout T           a request without its reply this long is an error (10s)
  -m, --method M            request method (GET)
  -H, --header 'N: V'       request header (repeatable); CGI protocols get HTTP_N
      --host H              Host header / SERVER_NAME (default: the target's host)
      --body TEXT           request body (Content-Length / CONTENT_LENGTH follow)
      --body-file FILE      request body from a file
      --param NAME=VALUE    uwsgi/SCGI/FastCGI variable, replacing the default of that
                            name or added (repeatable), e.g. SCRIPT_FILENAME=/srv/index.php
      --expect-status N     the status every reply must have (200; 0: any)
      --expect-body-length N  the body length every reply must have (any)
      --json                print the result as JSON (one object) instead of a table
      --compare A.json B.json  print two saved runs (--json) side by side, B's figures
                            as ratios of A's; no load
  -h, --help

WebSocket (-p ws or ws://): every connection does the HTTP/1.1 Upgrade handshake
(a random Sec-WebSocket-Key; the 101, Upgrade, Connection and Sec-WebSocket-Accept
checked), then sends masked frames. Requests are messages.
      --ws-mode M           echo (default): each connection sends a message, waits for
                            the echo (opcode and length checked) and sends again;
                            subscribe: the connections only receive, and one more, the
                            publisher, sends messages the server relays to all of them
                            (closed loop, or --rate messages/s); counted: deliveries,
                            latency from the publisher's send to each delivery
      --ws-message-size N   message bytes (32)
      --ws-binary           binary messages (default: text)
      --ws-prefix P         subscribe: published messages start with P and a 16-digit
                            hex sequence number (pub:); the server tells them by it

Errors by kind: connect, write, read (reset, or closed before any byte), timeout,
status, framing (bad status line, head, chunk, record or frame), short_body (closed
inside the reply), length (not the declared or expected length), protocol (FastCGI
END_REQUEST not REQUEST_COMPLETE, a record for a request id not in flight; a
WebSocket reply of the other opcode), handshake (WebSocket: no 101, or a wrong
Sec-WebSocket-Accept, Upgrade or Connection), closed (WebSocket: a close frame, or
the connection closed after the 101).
A status error names the statuses seen (status 12: 404 x12). A refused connect
(nobody listens at TARGET) stops the run at once with that error.
Exit status: 0, 1 when no reply was valid or a connect was refused, 2 for bad usage.

Examples:
  tsgi bench --protocol fastcgi --connections 64 --duration 10s unix:/run/php/php-fpm.sock /index.php
  tsgi bench http://127.0.0.1:8000/ --pipeline 16 --threads 2
  tsgi bench -p uwsgi --rate 5000 -d 30s 127.0.0.1:3031 /api/items
  tsgi bench ws://127.0.0.1:8000/ -c 200 --ws-message-size 32 --ws-binary
  tsgi bench ws://127.0.0.1:8000/ -c 1000 --ws-mode subscribe --pipeline 16
`;

function usage(message: string): never {
  const e = new Error(message);
  (e as Error & { code: string }).code = 'TSGI_BENCH_USAGE';
  throw e;
}

/** "10s", "500ms", "2m", "1.5" (seconds) -> seconds. */
export function parseSeconds(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) usage(`${flag} needs a time such as 10s, 500ms, 2m or a number of seconds, not ${JSON.stringify(text)}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] ?? 's']!;
  return Number(m[1]) * unit;
}

function count(flag: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) usage(`${flag} needs a whole number, not ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n < min || n > max) usage(`${flag} must be ${min}..${max}`);
  return n;
}

/** TARGET (and an optional scheme and path in it) as the engine's target, protocol and path. */
export function parseTarget(text: string): { target: string; protocol?: Protocol; path?: string } {
  const m = /^([a-z]+):\/\/(.*)$/.exec(text);
  if (!m) return { target: text };
  const scheme = m[1] === 'fcgi' ? 'fastcgi' : m[1] as Protocol;
  if (!PROTOCOLS.includes(scheme)) usage(`unknown scheme ${m[1]}:// (http, uwsgi, scgi, fastcgi, ws)`);
  const rest = m[2]!;
  // fastcgi:///run/php.sock, uwsgi://@name, http://unix:/path: a socket, no path in it.
  if (rest.startsWith('/') || rest.startsWith('@') || rest.startsWith('unix:')) return { target: rest, protocol: scheme };
  const slash = rest.indexOf('/');
  if (slash === -1) return { target: rest, protocol: scheme };
  return { target: rest.slice(0, slash), protocol: scheme, path: rest.slice(slash) };
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const o: NativeBenchOptions = { protocol: 'http', target: '', connections: 64, duration: 10 };
  const headers: [string, string][] = [];
  const params: [string, string][] = [];
  const positional: string[] = [];
  let protocol: Protocol | undefined;
  let json = false;
  let help = false;
  let durationGiven = false;
  let ws = false;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let inline: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i]!;
    };
    switch (a) {
      case '-h': case '--help': help = true; break;
      case '--json': json = true; break;
      case '-p': case '--protocol': {
        const p = value();
        const name = p === 'fcgi' ? 'fastcgi' : p;
        if (!PROTOCOLS.includes(name as Protocol)) usage(`--protocol must be http, uwsgi, scgi, fastcgi or ws, not ${JSON.stringify(p)}`);
        protocol = name as Protocol;
        break;
      }
      case '-c': case '--connections': o.connections = count(a, value(), 1, 1_000_000); break;
      case '-t': case '--threads': o.threads = count(a, value(), 1, 1024); break;
      case '-d': case '--duration': o.duration = parseSeconds(a, value()); durationGiven = true; break;
      case '-n': case '--requests': o.requests = count(a, value(), 1, Number.MAX_SAFE_INTEGER); break;
      case '-w': case '--warmup': o.warmup = parseSeconds(a, value()); break;
      case '--timeout': o.timeout = parseSeconds(a, value()); break;
      case '-R': case '--rate': {
        const r = Number(value());
        if (!(r > 0) || !Number.isFinite(r)) usage('--rate needs a positive number of requests per second');
        o.rate = r;
        break;
      }
      case '--pipeline': o.pipeline = count(a, value(), 1, 256); break;
      case '--multiplex': o.multiplex = count(a, value(), 1, 256); break;
      case '--no-keep-conn': o.keepConn = false; break;
      case '-m': case '--method': {
        const m = value();
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(m)) usage(`--method ${JSON.stringify(m)} is not an HTTP method token`);
        o.method = m;
        break;
      }
      case '-H': case '--header': {
        const h = value();
        const colon = h.indexOf(':');
        if (colon <= 0) usage(`--header needs 'Name: value', not ${JSON.stringify(h)}`);
        if (/[\r\n]/.test(h)) usage('--header must be one line');
        headers.push([h.slice(0, colon).trim(), h.slice(colon + 1).trim()]);
        break;
      }
      case '--host': o.host = value(); break;
      case '--body': o.body = Buffer.from(value()); break;
      case '--body-file': {
        const f = value();
        try { o.body = fs.readFileSync(f); } catch (err) { usage(`--body-file ${f}: ${(err as Error).message}`); }
        break;
      }
      case '--param': {
        const p = value();
        const at = p.indexOf('=');
        if (at <= 0) usage(`--param needs NAME=VALUE, not ${JSON.stringify(p)}`);
        params.push([p.slice(0, at), p.slice(at + 1)]);
        break;
      }
      case '--ws-mode': {
        const m = value();
        if (m !== 'echo' && m !== 'subscribe') usage(`--ws-mode must be echo or subscribe, not ${JSON.stringify(m)}`);
        o.wsMode = m;
        ws = true;
        break;
      }
      case '--ws-message-size': o.wsMessageSize = count(a, value(), 0, 16 << 20); ws = true; break;
      case '--ws-binary': o.wsBinary = true; ws = true; break;
      case '--ws-prefix': o.wsPrefix = value(); ws = true; break;
      case '--expect-status': o.expectStatus = count(a, value(), 0, 999); break;
      case '--expect-body-length': o.expectBodyLength = count(a, value(), 0, Number.MAX_SAFE_INTEGER); break;
      default:
        if (a.startsWith('-') && a.length > 1) usage(`unknown option ${a} (see tsgi bench --help)`);
        positional.push(argv[i]!);
    }
  }
  if (help) return { options: o, json, help };
  if (positional.length === 0) usage('no target given (see tsgi bench --help)');
  if (positional.length > 2) usage(`one target and at most one path, not ${positional.join(' ')}`);
  const t = parseTarget(positional[0]!);
  o.target = t.target;
  if (t.protocol !== undefined && protocol !== undefined && t.protocol !== protocol) {
    usage(`--protocol ${protocol} and ${t.protocol}:// disagree`);
  }
  o.protocol = protocol ?? t.protocol ?? 'http';
  const path = positional[1] ?? t.path ?? '/';
  if (!path.startsWith('/')) usage(`the path must start with "/", not ${JSON.stringify(path)}`);
  o.path = path;
  if (headers.length > 0) o.headers = headers;
  if (params.length > 0) {
    if (o.protocol === 'http') usage('--param is for uwsgi, SCGI and FastCGI (HTTP has --header)');
    o.params = params;
  }
  if ((o.pipeline ?? 1) > 1 && o.protocol !== 'http' && o.protocol !== 'ws') usage('--pipeline is HTTP\'s and WebSocket\'s (FastCGI: --multiplex)');
  if (ws && o.protocol !== 'ws') usage('the --ws-* options need --protocol ws (or a ws:// target)');
  if (o.protocol === 'ws' && o.rate !== undefined && o.wsMode !== 'subscribe') usage('--rate is for --ws-mode subscribe (echo is closed loop)');
  if (o.protocol === 'ws' && o.wsMode === 'subscribe' && (o.threads ?? 1) > 1) usage('--ws-mode subscribe runs on one thread');
  if ((o.multiplex ?? 1) > 1 && o.protocol !== 'fastcgi') usage('--multiplex is FastCGI\'s (HTTP: --pipeline)');
  if ((o.multiplex ?? 1) > 1 && o.keepConn === false) usage('--multiplex needs kept connections (drop --no-keep-conn)');
  if (o.keepConn === false && o.protocol !== 'fastcgi') usage('--no-keep-conn is FastCGI\'s');
  // --requests alone runs until that many; with --duration, whichever comes first.
  if (o.requests !== undefined && !durationGiven) o.duration = 0;
  if (o.duration === 0 && o.requests === undefined) usage('--duration must be above 0');
  return { options: o, json, help };
}

/** Runs the load; progress about once a second. stop() ends it early. */
export function runBench(options: NativeBenchOptions, onProgress?: (p: NativeBenchProgress) => void):
  { result: Promise<BenchResult>; stop(): void } {
  let stop = (): void => {};
  const result = new Promise<BenchResult>((resolve, reject) => {
    const handle = loadgenBinding().benchStart(options, (type, data) => {
      if (type === 'progress') onProgress?.(data as NativeBenchProgress);
      else if (type === 'done') resolve(JSON.parse(data as string) as BenchResult);
      else reject(new Error(data as string));
    });
    stop = () => handle.stop();
  });
  return { result, stop: () => stop() };
}

const num = (x: number, d = 0): string =>
  x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

function bytes(n: number): string {
  if (n >= 1e9) return `${num(n / 1e9, 2)} GB`;
  if (n >= 1e6) return `${num(n / 1e6, 2)} MB`;
  if (n >= 1e3) return `${num(n / 1e3, 1)} kB`;
  return `${n} B`;
}

const ms = (us: number): string => `${num(us / 1000, us < 10_000 ? 3 : 1)} ms`;

/** The result as a few aligned lines for a person. */
export function summary(o: NativeBenchOptions, r: BenchResult): string {
  const unit = o.protocol === 'ws' ? 'messages' : 'requests';
  const mode = o.rate ? `open loop at ${num(o.rate)} ${o.protocol === 'ws' ? 'msg' : 'req'}/s` : 'closed loop';
  const ws = o.protocol === 'ws'
    ? `, ${o.wsMode ?? 'echo'} ${o.wsMessageSize ?? 32} B ${o.wsBinary ? 'binary' : 'text'}` : '';
  const depth = (o.pipeline ?? 1) > 1 ? `, pipeline ${o.pipeline}` : (o.multiplex ?? 1) > 1 ? `, multiplex ${o.multiplex}` : '';
  const conns = `${o.connections} connection${o.connections === 1 ? '' : 's'}`;
  const threads = `${o.threads ?? 1} thread${(o.threads ?? 1) === 1 ? '' : 's'}`;
  const l = r.latency_us;
  const seen = Object.entries(r.status_seen ?? {}).sort((x, y) => y[1] - x[1]).map(([st, n]) => `${st} x${num(n)}`);
  const kinds = Object.entries(r.errors).filter(([k, v]) => k !== 'total' && v > 0)
    .map(([k, v]) => k === 'status' && seen.length > 0
      ? `status ${num(v)} (${seen.join(', ')}; expected ${o.expectStatus ?? 200})` : `${k} ${num(v)}`);
  const rows: Array<[string, string]> = [
    [unit, `${num(r.requests)} in ${num(r.elapsed_s, 2)} s${r.stopped ? ' (stopped early)' : ''}`],
    [`${unit}/s`, num(r.rps, 1)],
    ...(r.ws?.mode === 'subscribe'
      ? [['published', `${num(r.ws.published ?? 0)} (${num(r.ws.published_per_s ?? 0, 1)}/s) to ${num(r.ws.subscribers ?? 0)} subscribers`] as [string, string]]
      : []),
    ['latency', l.count === 0 ? 'n/a' : `p50 ${ms(l.p50)}   p90 ${ms(l.p90)}   p99 ${ms(l.p99)}   p99.9 ${ms(l.p99_9)}`],
    ['', l.count === 0 ? '' : `min ${ms(l.min)}   mean ${ms(l.mean)}   max ${ms(l.max)}`],
    ['errors', r.errors.total === 0 ? '0' : `${num(r.errors.total)}: ${kinds.join(', ')}`],
    ['connections opened', `${num(r.connects)}${(o.warmup ?? 0) > 0 ? ' (after the warm-up; those it opened are kept)' : ''}`],
    ['bytes', `in ${bytes(r.bytes_in)} (${bytes(r.elapsed_s > 0 ? r.bytes_in / r.elapsed_s : 0)}/s), out ${bytes(r.bytes_out)}`],
    ['client CPU', `${num(r.client_cpu.user_s + r.client_cpu.system_s, 2)} s (${num(r.client_cpu.use * 100)}% of a core), ` +
      `${num(r.client_cpu.us_per_request, 2)} µs per ${o.protocol === 'ws' ? 'message' : 'request'}`],
  ];
  return [
    `tsgi bench: ${o.protocol} ${o.target} ${o.method ?? 'GET'} ${o.path}, ${conns}, ${threads}${depth}${ws}, ${mode}` +
      ((o.warmup ?? 0) > 0 ? `, after ${num(o.warmup!, 1)} s of warm-up (not counted)` : ''),
    '',
    ...rows.filter(([k, v]) => k !== '' || v !== '').map(([k, v]) => `  ${k.padEnd(20)}${v}`),
    '',
  ].join('\n');
}

/** `tsgi bench ARGS`: resolves to the exit status. */
export async function benchMain(argv: readonly string[]): Promise<number> {
  const at = argv.indexOf('--compare');
  if (at !== -1) {
    const files = argv.filter((_, i) => i !== at);
    if (files.length !== 2 || files.some((f) => f.startsWith('-'))) {
      process.stderr.write('tsgi bench: --compare needs two saved runs and nothing else: tsgi bench --compare A.json B.json\n');
      return 2;
    }
    try {
      process.stdout.write(compareRuns(files[0]!, files[1]!));
    } catch (err) {
      process.stderr.write(`tsgi bench: ${(err as Error).message}\n`);
      return 2;
    }
    return 0;
  }
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (err) {
    process.stderr.write(`tsgi bench: ${(err as Error).message}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  const o = args.options;
  const live = process.stderr.isTTY === true && !args.json;
  let last = { t: 0, requests: 0 };
  const progress = (p: NativeBenchProgress): void => {
    if (!live) return;
    const rps = p.elapsed > last.t ? (p.requests - last.requests) / (p.elapsed - last.t) : 0;
    last = { t: p.elapsed, requests: p.requests };
    const phase = p.measuring ? '' : ' (warm-up)';
    process.stderr.write(`\r\x1b[K  ${num(p.elapsed, 0)}s${phase}  ${num(p.requests)} requests  ` +
      `${num(p.measuring ? rps : 0)} req/s  ${num(p.errors)} errors  ${bytes(p.bytesIn)} in`);
  };
  const run = runBench(o, progress);
  const onSignal = (): void => run.stop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let r: BenchResult;
  try {
    r = await run.result;
  } catch (err) {
    if (live) process.stderr.write('\r\x1b[K');
    process.stderr.write(`tsgi bench: ${(err as Error).message}\n`);
    // A refused connect is the server's state, not a usage error.
    return /: connection refused \(/.test((err as Error).message) ? 1 : 2;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (live) process.stderr.write('\r\x1b[K');
  process.stdout.write(args.json ? `${JSON.stringify(r)}\n` : summary(o, r));
  return r.requests > 0 ? 0 : 1;
}

export function run(argv: readonly string[]): void {
  benchMain(argv).then((code) => { process.exitCode = code; }, (err: unknown) => {
    process.stderr.write(`tsgi bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
