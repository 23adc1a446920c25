// A Hono app served by `tsgi` with and without --fetch-override-globals (on
// the command line, in a config file, in the environment): the replies are
// the same bytes for every route, and only the flag replaces the global
// Response (off by default). The spelling is checked like any flag's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseResponses, rawRequest, tempDir } from '../helpers/index.js';
import { runTsgi, TsgiProcess, oneLine } from '../helpers/tsgi-process.js';

const APP = path.join(__dirname, 'fixtures', 'hono-routes.js');
const dir = tempDir('tsgi-fetch-globals-');
const INI = path.join(dir, 'tsgi.ini');
fs.writeFileSync(INI, `[tsgi]\nfetch_override_globals = true\n`);
const JSON_FILE = path.join(dir, 'tsgi.json');
fs.writeFileSync(JSON_FILE, JSON.stringify({ 'fetch-override-globals': true }));

const SETTINGS: Array<{ name: string; args: string[]; env?: Record<string, string>; replaced: boolean }> = [
  { name: 'default', args: [], replaced: false },
  { name: '--fetch-override-globals', args: ['--fetch-override-globals'], replaced: true },
  { name: 'fetch_override_globals = true in tsgi.ini', args: ['--config', INI], replaced: true },
  { name: 'TSGI_FETCH_OVERRIDE_GLOBALS=1', args: [], env: { TSGI_FETCH_OVERRIDE_GLOBALS: '1' }, replaced: true },
];
const procs = new Map<string, TsgiProcess>();

before(async () => {
  await Promise.all(SETTINGS.map(async (s) => {
    procs.set(s.name, await TsgiProcess.start(['--http', '127.0.0.1:0', ...s.args, APP], s.env ? { env: s.env } : {}));
  }));
});
after(async () => {
  await Promise.all([...procs.values()].map((p) => p.stop()));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function reply(name: string, head: string, body = ''): Promise<string> {
  const r = await rawRequest(procs.get(name)!.port, `${head}Host: t\r\nConnection: close\r\n${body === '' ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`}\r\n${body}`);
  const parsed = parseResponses(r.data, { closed: r.closed, head: head.startsWith('HEAD ') }).responses;
  assert.equal(parsed.length, 1, r.data.toString('latin1'));
  return r.data.toString('latin1').replace(/^date: .*$/im, 'date: (masked)');
}

const ROUTES: Array<[string, string?]> = [
  ['GET / HTTP/1.1\r\n'], ['HEAD / HTTP/1.1\r\n'], ['GET /json HTTP/1.1\r\n'], ['GET /users/42?q=a%20b HTTP/1.1\r\n'],
  ['GET /html HTTP/1.1\r\n'], ['GET /bytes HTTP/1.1\r\n'], ['GET /empty HTTP/1.1\r\n'], ['GET /header HTTP/1.1\r\n'],
  ['GET /cookies HTTP/1.1\r\n'], ['GET /redirect HTTP/1.1\r\n'], ['GET /stream HTTP/1.1\r\n'], ['GET /raw HTTP/1.1\r\n'],
  ['HEAD /raw HTTP/1.1\r\n'], ['GET /raw-json HTTP/1.1\r\n'], ['GET /raw-stream HTTP/1.1\r\n'], ['GET /mw/x HTTP/1.1\r\n'],
  ['POST /echo HTTP/1.1\r\n', '{"a":[1,"two"]}'], ['GET /boom HTTP/1.1\r\n'], ['GET /nowhere HTTP/1.1\r\n'],
  ['HEAD /json HTTP/1.1\r\n'],
];

test('every route replies with the same bytes whether the global Response is replaced or not', async () => {
  for (const [head, body] of ROUTES) {
    const want = await reply('default', head, body);
    for (const s of SETTINGS.slice(1)) assert.equal(await reply(s.name, head, body), want, `${s.name}: ${head.trim()}`);
  }
  // Some of them, spelled out: the check above compares real replies.
  assert.match(await reply('default', 'GET / HTTP/1.1\r\n'), /^HTTP\/1\.1 200 OK\r\n[^]*content-length: 12\r\n[^]*\r\n\r\nHello, Hono!$/i);
  assert.match(await reply('default', 'GET /cookies HTTP/1.1\r\n'), /set-cookie: session=abc; Path=\/; HttpOnly\r\nset-cookie: theme=dark; Path=\/\r\n/i);
  assert.match(await reply('default', 'GET /mw/x HTTP/1.1\r\n'), /x-middleware: after\r\n/i);
});

test('only the option replaces the global Response; off by default', async () => {
  for (const s of SETTINGS) {
    const r = await fetch(`http://127.0.0.1:${procs.get(s.name)!.port}/global`);
    assert.deepEqual(await r.json(), { replaced: s.replaced, isResponse: true }, s.name);
  }
});

test('--print-config shows the option from each source; a misspelling gets "did you mean"', () => {
  const shown = (args: string[], env: Record<string, string> = {}) =>
    runTsgi([...args, '--print-config', APP], { env }).stdout.split('\n').filter((l) => l.startsWith('fetch-override-globals'));
  assert.deepEqual(shown(['--fetch-override-globals']).map((l) => l.replace(/\s+/g, ' ')), ['fetch-override-globals = true # --fetch-override-globals']);
  assert.equal(shown(['--config', JSON_FILE]).length, 1);
  assert.match(shown(['--config', INI])[0]!, /= true\s+# .*tsgi\.ini:2$/);
  assert.equal(shown([]).length, 0, 'not set by default');
  const typo = runTsgi(['--fetch-overide-globals', APP]);
  assert.equal(typo.code, 2);
  assert.equal(oneLine(typo.stderr), 'tsgi: invalid command line: unknown option --fetch-overide-globals (did you mean --fetch-override-globals?) (see tsgi --help)');
  const value = runTsgi(['--fetch-override-globals=yes', APP]);
  assert.match(oneLine(value.stderr), /--fetch-override-globals takes no value/);
  const file = path.join(dir, 'typo.ini');
  fs.writeFileSync(file, '[tsgi]\nfetch-override-global = true\n');
  assert.match(oneLine(runTsgi(['--config', file, APP]).stderr), /unknown option "fetch-override-global" \(did you mean fetch-override-globals\?\)/);
  assert.match(runTsgi(['--help']).stdout, /--fetch-override-globals/);
});

test('the log says the global was replaced; for an app that is not a fetch handler, that nothing was', async () => {
  const REPLACED = /^tsgi: --fetch-override-globals: the global Response is tsgi's light class in this process/;
  for (const s of SETTINGS) assert.equal(procs.get(s.name)!.count(REPLACED), s.replaced ? 1 : 0, s.name);
  const tsgiApp = path.join(dir, 'tsgi-app.js');
  fs.writeFileSync(tsgiApp, 'module.exports = (req) => ({ body: "plain" });\n');
  const p = await TsgiProcess.start(['--http', '127.0.0.1:0', '--fetch-override-globals', tsgiApp]);
  try {
    assert.equal(p.count(/^tsgi: --fetch-override-globals: no fetch handler among the apps; the global Response is left as it is$/), 1);
    assert.equal(await (await fetch(`http://127.0.0.1:${p.port}/`)).text(), 'plain');
  } finally {
    await p.stop();
  }
});
