#!/usr/bin/env node
// Groups `perf script` samples of a tsgi server into where the time goes.
//
//   perf record -e cpu-clock -F 1999 -g -p PID -o perf.data -- sleep 10
//   perf script -i perf.data -F comm,tid,ip,sym,dso > perf.txt
//   node bench/perf-breakdown.mjs perf.txt [requests]
//
// With `requests` (what wrk completed while perf recorded, or the server's
// request rate × seconds), shares are also given as µs of CPU per request,
// using the sample count × the sampling period (-F) — pass --freq=N if not 1999.
// Start node with --perf-basic-prof so JIT frames have names.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const requests = Number(args.filter((a) => !a.startsWith('--'))[1] ?? NaN);
const freq = Number(args.find((a) => a.startsWith('--freq='))?.slice(7) ?? 1999);
const topN = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
if (!file) {
  process.stderr.write('usage: node bench/perf-breakdown.mjs perf.txt [requests] [--freq=1999] [--top=25]\n');
  process.exit(2);
}

// One sample: a header line, then frames "addr sym (dso)", leaf first, then a blank line.
const samples = [];
let cur = null;
for (const line of readFileSync(file, 'utf8').split('\n')) {
  if (line.trim() === '') {
    if (cur) samples.push(cur);
    cur = null;
    continue;
  }
  if (!/^\s/.test(line)) {
    cur = [];
    continue;
  }
  const m = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
  if (cur && m) cur.push({ sym: m[1].replace(/\+0x[0-9a-f]+$/, ''), dso: m[2] });
}
if (cur) samples.push(cur);
const total = samples.length;
if (total === 0) {
  process.stderr.write('no samples\n');
  process.exit(1);
}

const isKernel = (f) => f.dso.includes('kernel');
const isAddon = (f) => f.dso.endsWith('.node');
const isJit = (f) => /^(JS:|Builtin:|RegExp:|Stub:|BytecodeHandler:|Handler:|LazyCompile:|Function:|Script:)/.test(f.sym) || f.dso.startsWith('/tmp/perf-');

function syscallOf(frames) {
  // The libc wrapper just above the kernel entry names the syscall best.
  const entry = frames.findIndex((f) => /^entry_SYSCALL/.test(f.sym));
  if (entry === -1) return null;
  const user = frames.slice(entry + 1).find((f) => !isKernel(f));
  if (user) return user.sym.replace(/^(__GI_|__libc_|_+)+/, '').replace(/^(\w+?)(64|_nocancel)?$/, '$1');
  const below = frames[entry - 2]?.sym ?? '';
  return below.replace(/^(__x64_sys_|__se_sys_|__do_sys_|ksys_|do_|__sys_)/, '') || 'unknown';
}

/** The leaf bucket: exclusive time. */
function bucket(frames) {
  const leaf = frames[0] ?? { sym: '?', dso: '?' };
  if (isKernel(leaf)) {
    const sc = syscallOf(frames);
    if (sc) {
      const name = /^(read|recv|recvfrom|recvmsg|readv)$/.test(sc) ? 'read/recv'
        : /^(sendmsg|send|sendto|writev|write)$/.test(sc) ? 'sendmsg/writev/write (includes loopback delivery to wrk)'
        : /^epoll_(p?wait|pwait2)$/.test(sc) ? 'epoll_wait/epoll_pwait'
        : sc;
      return `kernel: ${name}`;
    }
    return 'kernel: interrupts, softirq, scheduler (no syscall)';
  }
  if (isAddon(leaf)) return 'tsgi.node (native core)';
  if (isJit(leaf)) {
    if (/^RegExp:/.test(leaf.sym)) return 'JS: regexp (header validation)';
    return 'JS: JIT code and builtins';
  }
  const s = leaf.sym;
  if (/Heap|Scaveng|MarkCompact|GC|Sweeper|Marking|Evacuat|Collector/.test(s)) return 'V8: garbage collection';
  if (/^napi_|v8impl|^Napi::/.test(s)) return 'N-API glue';
  if (/^Builtins_/.test(s)) return 'JS: JIT code and builtins';
  if (leaf.dso.includes('libc') || leaf.dso.includes('libstdc++') || leaf.dso.includes('libm')) {
    const caller = frames.find((f) => !(f.dso.includes('libc') || f.dso.includes('libstdc++')));
    return caller && isAddon(caller) ? 'libc/libstdc++ called by tsgi.node' : 'libc/libstdc++ (other callers)';
  }
  if (/^uv_|^uv__/.test(s)) return 'libuv';
  if (/^v8::|^node::/.test(s)) return 'V8/node runtime (other)';
  return `other (${leaf.dso.split('/').pop()})`;
}

const count = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
const buckets = new Map();
const leaves = new Map();
for (const frames of samples) {
  count(buckets, bucket(frames));
  const leaf = frames[0];
  if (leaf) count(leaves, `${leaf.sym}  [${leaf.dso.split('/').pop()}]`);
}

// Inclusive: samples whose stack contains the frame.
const inclusive = [
  ['Server::OnPoll (a libuv wake-up for the core)', (f) => f.sym.includes('Server::OnPoll')],
  ['  Loop::run_ready (epoll_wait, read, parse, stage)', (f) => f.sym.includes('Loop::run_ready')],
  ['    Connection::read_into (recv)', (f) => f.sym.includes('Connection::read_into')],
  ['    http1::parse_head', (f) => f.sym.includes('parse_head')],
  ['    Server::on_request (record staging)', (f) => f.sym.includes('Server::on_request')],
  ['  Server::deliver (ArrayBuffer + call into JS)', (f) => f.sym.includes('Server::deliver')],
  ['    JS onEvents (dispatch, app, reply)', (f) => /onEvents/.test(f.sym)],
  ['      JS send (reply validation + respond)', (f) => /JS:\S*send /.test(f.sym)],
  ['      encodeHeaders', (f) => /encodeHeaders|JS:\S*add /.test(f.sym)],
  ['      Server::Respond (N-API call)', (f) => f.sym.includes('Server::Respond')],
  ['        Loop::respond (head building)', (f) => f.sym.includes('Loop::respond')],
  ['  Loop::flush_dirty (sendmsg, resume input)', (f) => f.sym.includes('Loop::flush_dirty')],
  ['    OutQueue::flush (sendmsg)', (f) => f.sym.includes('OutQueue::flush')],
  ['uv__io_poll epoll_pwait (libuv waiting/polling)', (f) => /^(__x64_sys_epoll_pwait|do_epoll_pwait)/.test(f.sym)],
  ['read_string (JS string → bytes for respond/write)', (f) => /read_string/.test(f.sym)],
  ['napi_unwrap (ObjectWrap this → Server*)', (f) => /^napi_unwrap/.test(f.sym)],
  ['napi_create_arraybuffer (batch buffer)', (f) => /^napi_create_arraybuffer/.test(f.sym)],
  ['Map set/delete (active requests)', (f) => /MapPrototype(Set|Delete)|OrderedHash|MapShrink|MapGrow/.test(f.sym)],
  ['HttpRequest constructor', (f) => /JS:\S*HttpRequest /.test(f.sym)],
  ['http1::head (status line, framing headers)', (f) => /http1::head\b/.test(f.sym)],
  ['V8 GC (anywhere)', (f) => /Heap::|Scavenger|MarkCompact|ScavengeJob|Sweeper/.test(f.sym)],
  ['napi_* (anywhere)', (f) => /^napi_/.test(f.sym)],
  ['ArrayBuffer::New / backing store', (f) => /ArrayBuffer|BackingStore/.test(f.sym)],
  ['MakeCallback (node callback scope, microtasks)', (f) => /MakeCallback|InternalCallbackScope|PerformCheckpoint|RunMicrotasks/.test(f.sym)],
  ['snprintf/vfprintf', (f) => /printf|_IO_/.test(f.sym)],
  ['malloc/free', (f) => /^(malloc|free|_int_malloc|_int_free|cfree|realloc|operator new|operator delete)/.test(f.sym)],
];
const incl = inclusive.map(([name, test]) => [name, samples.filter((fr) => fr.some(test)).length]);

const periodUs = 1e6 / freq;
const perReq = (n) => (Number.isFinite(requests) && requests > 0 ? ((n * periodUs) / requests).toFixed(2) : '');
const pct = (n) => ((100 * n) / total).toFixed(1);
const head = Number.isFinite(requests) ? '| share | µs/req |' : '| share |';
const sep = Number.isFinite(requests) ? '|---:|---:|' : '|---:|';
const row = (name, n) => `| ${name} | ${pct(n)}% |${Number.isFinite(requests) ? ` ${perReq(n)} |` : ''}`;

const out = [];
out.push(`${total} samples at ${freq} Hz = ${(total / freq).toFixed(2)} CPU-s` +
  (Number.isFinite(requests) ? `, ${requests} requests → ${((total * periodUs) / requests).toFixed(2)} µs/req` : ''));
out.push('', '### Exclusive (where the leaf frame is)', '', `| bucket ${head}`, `|---${sep}`);
for (const [k, n] of [...buckets].sort((a, b) => b[1] - a[1])) out.push(row(k, n));
out.push('', '### Inclusive (stack contains)', '', `| frame ${head}`, `|---${sep}`);
for (const [k, n] of incl) out.push(row(k.replace(/^( +)/, (s) => '&nbsp;'.repeat(s.length)), n));
out.push('', `### Top ${topN} leaf symbols`, '', `| symbol ${head}`, `|---${sep}`);
for (const [k, n] of [...leaves].sort((a, b) => b[1] - a[1]).slice(0, topN)) out.push(row(k.replace(/\|/g, '\\|'), n));
process.stdout.write(out.join('\n') + '\n');
