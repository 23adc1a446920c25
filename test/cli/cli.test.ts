// The `tsgi` command as a user runs it: `node bin/tsgi ...` from the repo.
// Usage errors exit 2, start-up failures exit non-zero, each with ONE line on
// stderr that names the culprit; SIGTERM finishes in-flight requests, exits 0.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { httpGet, ROOT, rawRequest, tempDir } from '../helpers/index.js';
import { oneLine, runToExit, TsgiProcess } from '../helpers/tsgi-process.js';
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const dir = tempDir('tsgi-cli-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeApp(name: string, source: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return file;
}

const APP = writeApp('app.js', `module.exports = (req) => ({ body: 'cjs ' + req.PATH_INFO });\n`);
const SLOW = writeApp('slow.js', `
module.exports = async (req) => {
  process.stdout.write('started ' + req.PATH_INFO + '\\n');
  await new Promise((r) => setTimeout(r, 300));
  return { headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(100000) + 'END' };
};\n`);

/** Starts a request now, to be awaited later without an unhandled rejection meanwhile. */
function inFlight<T>(p: Promise<T>): () => Promise<T> {
  const settled = p.then((v) => ({ v }), (err: unknown) => ({ err }));
  return async () => {
    const s = await settled;
    if ('err' in s) throw s.err;
    return s.v;
  };
}

/** "http://127.0.0.1:PORT" -> PORT; a unix socket path stays a path. */
function target(where: string): number | string {
  const m = /^http:\/\/[^/]*:(\d+)$/.exec(where);
  return m ? Number(m[1]) : where;
}

function listenBusy(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

// -- usage -------------------------------------------------------------------

test('--help exits 0 and lists --http', async () => {
  const r = await runToExit(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: tsgi /);
  assert.match(r.stdout, /^\s+--http(, --[a-z-]+)* ADDR\s/m);
  assert.equal(r.stderr, '');
});

test('--version prints the package version', async () => {
  for (const flag of ['--version', '-V']) {
    const r = await runToExit([flag]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^tsgi ${VERSION.replace(/\./g, '\\.')}\\b`));
    assert.equal(r.stderr, '');
  }
});

test('an unknown flag exits 2 with one line naming it', async () => {
  const r = await runToExit(['--no-such-flag', APP]);
  assert.equal(r.code, 2);
  assert.match(oneLine(r.stderr), /--no-such-flag/);
  assert.equal(r.stdout, '');
});

test('a flag missing its value, no app, or no listener exit 2 with one line', async () => {
  const cases: [string[], RegExp][] = [
    [['--http'], /--http/],
    [['--http', '127.0.0.1:0'], /app/],
    [[APP], /--http/],
  ];
  for (const [args, re] of cases) {
    const r = await runToExit(args);
    assert.equal(r.code, 2, `tsgi ${args.join(' ')}`);
    assert.match(oneLine(r.stderr), re);
  }
});

test('--http with a bad address exits non-zero with one line naming it', async () => {
  for (const bad of ['300.1.1.1:80', '127.0.0.1:99999', '[::1', '127.0.0.1:http', '']) {
    const r = await runToExit(['--http', bad, APP]);
    assert.notEqual(r.code, 0, `--http "${bad}" was accepted`);
    const line = oneLine(r.stderr);
    assert.ok(line.includes(`"${bad}"`) || line.includes(` ${bad}:`), `"${bad}" not named in: ${line}`);
  }
});

test('a busy port exits non-zero with one line: address already in use, and the address', async () => {
  const busy = await listenBusy();
  try {
    const port = (busy.address() as net.AddressInfo).port;
    const r = await runToExit(['--http', `127.0.0.1:${port}`, APP]);
    assert.notEqual(r.code, 0);
    const line = oneLine(r.stderr);
    assert.match(line, /address already in use/i);
    assert.ok(line.includes(`127.0.0.1:${port}`), `address not named in: ${line}`);
  } finally {
    busy.close();
  }
});

test('a unix socket in a missing directory exits non-zero with one line naming the path', async () => {
  const sock = path.join(dir, 'no-such-dir', 'app.sock');
  const r = await runToExit(['--http', sock, APP]);
  assert.notEqual(r.code, 0);
  assert.ok(oneLine(r.stderr).includes(sock));
});

// -- the app module ------------------------------------------------------------

test('a missing module exits non-zero with one line naming it', async () => {
  const missing = path.join(dir, 'missing.js');
  const r = await runToExit(['--http', '127.0.0.1:0', missing]);
  assert.notEqual(r.code, 0);
  assert.ok(oneLine(r.stderr).includes(missing));
});

// (test/cli/start-errors.test.ts shows what these say in full.)
test('a module that throws at load exits non-zero naming it, the error and where it was thrown', async () => {
  const file = writeApp('throws.js', `throw new Error('boom at load');\n`);
  const r = await runToExit(['--http', '127.0.0.1:0', file]);
  assert.notEqual(r.code, 0);
  assert.ok(r.stderr.startsWith(`tsgi: the app module could not be loaded: ${file} threw while loading:\nError: boom at load\n`), r.stderr);
  assert.match(r.stderr, new RegExp(`\\n    at .*${path.basename(file)}:1:7`));
});

test('a module with a syntax error exits non-zero naming it and the line', async () => {
  const file = writeApp('syntax.js', `module.exports = (req) => {\n`);
  const r = await runToExit(['--http', '127.0.0.1:0', file]);
  assert.notEqual(r.code, 0);
  assert.ok(r.stderr.startsWith(`tsgi: the app module could not be loaded: ${file} has a syntax error:\n${file}:2\n`), r.stderr);
  assert.match(r.stderr, /SyntaxError: Unexpected end of input\n$/);
});

test('a module exporting a non-function exits non-zero with one line naming it', async () => {
  for (const [name, src] of [['num.js', 'module.exports = 42;\n'], ['obj.mjs', 'export default { a: 1 };\n'],
    ['none.mjs', 'export const x = 1;\n']] as const) {
    const file = writeApp(name, src);
    const r = await runToExit(['--http', '127.0.0.1:0', file]);
    assert.notEqual(r.code, 0, name);
    assert.ok(oneLine(r.stderr).includes(file), `${name}: ${r.stderr}`);
  }
});

test('a missing named export exits non-zero with one line naming the module and export', async () => {
  const file = writeApp('named-missing.js', `exports.other = () => ({ body: '' });\n`);
  const r = await runToExit(['--http', '127.0.0.1:0', `${file}:handler`]);
  assert.notEqual(r.code, 0);
  const line = oneLine(r.stderr);
  assert.ok(line.includes(file), line);
  assert.match(line, /handler/);
});

test('ESM default export, CommonJS module.exports and a named export all load and serve', async () => {
  const cases: [string, string][] = [
    [writeApp('esm.mjs', `export default (req) => ({ body: 'esm ' + req.PATH_INFO });\n`), 'esm /p'],
    [APP, 'cjs /p'],
    [`${writeApp('named.js', `exports.handler = (req) => ({ body: 'named ' + req.PATH_INFO });\n`)}:handler`, 'named /p'],
    [`${writeApp('named.mjs', `export const handler = async (req) => ({ body: 'esm-named ' + req.PATH_INFO });\n`)}:handler`,
      'esm-named /p'],
  ];
  for (const [spec, body] of cases) {
    const r = await TsgiProcess.start(['--http', '127.0.0.1:0', spec]);
    try {
      const reply = await httpGet(target(r.where[0]!), '/p');
      assert.equal(reply.status, 200, spec);
      assert.equal(reply.body, body, spec);
    } finally {
      const e = await r.terminate();
      assert.equal(e.code, 0, `${spec}: ${e.stderr}`);
    }
  }
});

test('a relative module path resolves from the working directory', async () => {
  const r = await TsgiProcess.start(['--http', '127.0.0.1:0', path.relative(ROOT, APP)]);
  try {
    assert.equal((await httpGet(target(r.where[0]!), '/rel')).body, 'cjs /rel');
  } finally {
    assert.equal((await r.terminate()).code, 0);
  }
});

// -- serving -----------------------------------------------------------------

test('serves on a TCP port and a unix socket at once', async () => {
  const sock = path.join(dir, 'two.sock');
  const r = await TsgiProcess.start(['--http', '127.0.0.1:0', '--http', sock, APP], { listeners: 2 });
  try {
    const tcp = r.where.find((w) => w.startsWith('http://'));
    assert.ok(tcp, `no TCP listener in ${r.where.join(', ')}`);
    assert.ok(r.where.includes(sock), `no unix listener in ${r.where.join(', ')}`);
    assert.equal((await httpGet(target(tcp), '/tcp')).body, 'cjs /tcp');
    assert.equal((await httpGet(sock, '/unix')).body, 'cjs /unix');
  } finally {
    assert.equal((await r.terminate()).code, 0);
  }
});

test('after a graceful stop, a new tsgi can serve on the same unix socket path', async () => {
  const sock = path.join(dir, 'again.sock');
  for (let round = 0; round < 2; round++) {
    const r = await TsgiProcess.start(['--http', sock, APP]);
    try {
      assert.equal((await httpGet(sock, `/r${round}`)).body, `cjs /r${round}`);
    } finally {
      assert.equal((await r.terminate()).code, 0);
    }
  }
});

test('SIGTERM finishes an in-flight request, then exits 0', async () => {
  const r = await TsgiProcess.start(['--http', '127.0.0.1:0', SLOW]);
  const port = target(r.where[0]!) as number;
  const pending = inFlight(httpGet(port, '/slow', { timeoutMs: 5_000 }));
  await r.waitText('started /slow'); // the app has the request: now signal
  const t0 = Date.now();
  const e = await r.terminate();
  const reply = await pending();
  assert.equal(reply.status, 200);
  assert.equal(reply.body.length, 100003, 'the reply was cut');
  assert.ok(reply.body.endsWith('END'));
  assert.equal(e.code, 0, e.stderr);
  assert.ok(Date.now() - t0 < 4_000, 'the exit waited far longer than the request');
  assert.match(e.stderr, /SIGTERM/);
});

test('after SIGTERM no new connection is accepted while a request finishes', async () => {
  const r = await TsgiProcess.start(['--http', '127.0.0.1:0', SLOW]);
  const port = target(r.where[0]!) as number;
  const pending = inFlight(httpGet(port, '/slow', { timeoutMs: 5_000 }));
  await r.waitText('started /slow');
  r.child.kill('SIGTERM');
  await r.waitText('SIGTERM', 'stderr');
  // The in-flight request still has ~300 ms to go; the listener must be gone.
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => { s.destroy(); resolve('timeout'); }, 1_000);
    s.on('connect', () => { clearTimeout(timer); s.destroy(); resolve('connected'); });
    s.on('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(err.code ?? 'error'); });
  });
  const reply = await pending();
  const e = await r.waitExit(5_000);
  assert.equal(refused, 'ECONNREFUSED');
  assert.equal(reply.body.length, 100003);
  assert.equal(e.code, 0);
});

test('SIGTERM with an idle keep-alive connection exits 0 promptly', async () => {
  const r = await TsgiProcess.start(['--http', '127.0.0.1:0', APP]);
  const port = target(r.where[0]!) as number;
  const sock = net.connect(port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.write('GET /ka HTTP/1.1\r\nHost: t\r\n\r\n');
      sock.once('data', () => resolve());
    });
    const t0 = Date.now();
    const e = await r.terminate();
    assert.equal(e.code, 0);
    assert.ok(Date.now() - t0 < 2_000, `took ${Date.now() - t0} ms`);
  } finally {
    sock.destroy();
  }
});

test('a second tsgi on the same port fails with address already in use', async () => {
  const first = await TsgiProcess.start(['--http', '127.0.0.1:0', APP]);
  try {
    const port = target(first.where[0]!) as number;
    const r = await runToExit(['--http', `127.0.0.1:${port}`, APP]);
    assert.notEqual(r.code, 0, 'two servers bound the same port');
    const line = oneLine(r.stderr);
    assert.match(line, /address already in use/i);
    assert.ok(line.includes(`127.0.0.1:${port}`), line);
    assert.equal((await httpGet(port, '/still')).body, 'cjs /still', 'the first server stopped answering');
  } finally {
    assert.equal((await first.terminate()).code, 0);
  }
});

const VERY_SLOW = writeApp('very-slow.js', `
module.exports = async (req) => {
  process.stdout.write('started ' + req.PATH_INFO + '\\n');
  await new Promise((r) => setTimeout(r, 5000));
  return { body: 'late' };
};\n`);

test('SIGINT stops gracefully like SIGTERM', async () => {
  const r = await TsgiProcess.start(['--http', '127.0.0.1:0', SLOW]);
  const pending = inFlight(httpGet(target(r.where[0]!), '/int', { timeoutMs: 5_000 }));
  await r.waitText('started /int');
  r.child.kill('SIGINT');
  const e = await r.waitExit(5_000);
  const reply = await pending();
  assert.equal(reply.body.length, 100003);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stderr, /SIGINT/);
});

test('a second signal during the graceful stop exits at once, non-zero', async () => {
  const r = await TsgiProcess.start(['--http', '127.0.0.1:0', VERY_SLOW]);
  const pending = inFlight(rawRequest(target(r.where[0]!), 'GET /forced HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 8_000 }));
  await r.waitText('started /forced');
  r.child.kill('SIGTERM');
  await r.waitText('SIGTERM', 'stderr');
  const t0 = Date.now();
  const e = await r.terminate(3_000);
  assert.notEqual(e.code, 0);
  assert.ok(Date.now() - t0 < 2_000, `took ${Date.now() - t0} ms`);
  assert.equal((await pending()).closed, true);
});

test('--shutdown-timeout bounds the wait for in-flight requests', async () => {
  const r = await TsgiProcess.start(['--shutdown-timeout', '0.5', '--http', '127.0.0.1:0', VERY_SLOW]);
  const pending = inFlight(rawRequest(target(r.where[0]!), 'GET /cut HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 8_000 }));
  await r.waitText('started /cut');
  const t0 = Date.now();
  const e = await r.terminate(4_000);
  const took = Date.now() - t0;
  const res = await pending();
  assert.equal(e.code, 0, e.stderr);
  assert.ok(took >= 400 && took < 3_000, `stopped after ${took} ms, expected about 500`);
  assert.equal(res.closed, true, 'the cut connection was left open');
  assert.ok(!res.data.toString('latin1').includes('late'), 'the reply arrived after all');
});

test('--chmod-socket sets the socket file mode; the file is removed on exit', async () => {
  const sock = path.join(dir, 'mode.sock');
  const r = await TsgiProcess.start(['--chmod-socket', '660', '--http', sock, APP]);
  try {
    assert.equal(fs.statSync(sock).mode & 0o777, 0o660);
    assert.equal((await httpGet(sock, '/m')).body, 'cjs /m');
  } finally {
    assert.equal((await r.terminate()).code, 0);
  }
  assert.equal(fs.existsSync(sock), false, 'the socket file was left behind');
});

test('--http fd:3 serves on an inherited listening socket (socket activation)', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  assert.ok(fd > 2, 'no descriptor for the listening socket');
  const r = new TsgiProcess(['--http', 'fd:3', APP], { fds: [fd] });
  // The child has its own copy now; ours must not accept the test's connection.
  await new Promise<void>((resolve) => server.close(() => resolve()));
  try {
    await r.waitText('tsgi: serving', 'stderr');
    assert.equal((await httpGet(port, '/fd')).body, 'cjs /fd');
  } finally {
    assert.equal((await r.terminate()).code, 0, r.stderr());
  }
});

test('--http fd:N that is not a listening socket fails with one line naming it', async () => {
  const r = await runToExit(['--http', 'fd:0', APP]);
  assert.notEqual(r.code, 0);
  assert.match(oneLine(r.stderr), /fd:0/);
});
