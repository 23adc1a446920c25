// Options come from the command line, TSGI_* variables and a config file
// (ini with a [tsgi] section, or JSON), merged per option: command line >
// environment > file > defaults. --print-config shows the result and where
// each value came from.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers/index.js';
import { runTsgi } from '../helpers/tsgi-process.js';

const dir = tempDir('tsgi-config-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** --print-config's lines as [name, value, source]. */
function printed(args: string[], env: Record<string, string> = {}): Array<[string, string, string]> {
  const r = runTsgi([...args, '--print-config'], { env });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => /^[a-z]/.test(l)).map((l) => {
    const m = /^(\S+) = (.*?)\s+# (.*)$/.exec(l);
    assert.ok(m, l);
    return [m[1]!, m[2]!, m[3]!];
  });
}

const INI = write('tsgi.ini', `# a comment
; another
[uwsgi]
http = :1
[tsgi]
http = 127.0.0.1:7001
http = /tmp/x.sock
processes = 2
harakiri = 30
max_body_size = 1000
vacuum = yes
app = ./app.js
`);

test('flag over environment over file, per option; the file\'s lines are named', () => {
  const got = printed(['--config', INI, '--harakiri', '5'], { TSGI_HARAKIRI: '10', TSGI_PROCESSES: '3' });
  assert.deepEqual(got, [
    ['http', '127.0.0.1:7001', `${INI}:6`],
    ['http', '/tmp/x.sock', `${INI}:7`],
    ['max-body-size', '1000', `${INI}:10`],
    ['processes', '3', 'TSGI_PROCESSES'],
    ['vacuum', 'true', `${INI}:11`],
    ['harakiri', '5', '--harakiri'],
    ['app', './app.js', `${INI}:12`],
  ]);
});

test('a repeatable option takes all its values from the highest source: env splits on commas and spaces', () => {
  const env = printed(['--config', INI], { TSGI_HTTP: '127.0.0.1:1, 127.0.0.1:2 /run/a.sock' }).filter(([n]) => n === 'http');
  assert.deepEqual(env, [['http', '127.0.0.1:1', 'TSGI_HTTP'], ['http', '127.0.0.1:2', 'TSGI_HTTP'], ['http', '/run/a.sock', 'TSGI_HTTP']]);
  const cli = printed(['--config', INI, '--http', ':9'], { TSGI_HTTP: ':8' }).filter(([n]) => n === 'http');
  assert.deepEqual(cli, [['http', ':9', '--http']]);
  // The app argument beats the file's "app".
  assert.deepEqual(printed(['--config', INI, 'other.js']).find(([n]) => n === 'app'), ['app', 'other.js', 'command line']);
});

test('JSON says the same as ini: arrays for repeatable options, booleans, numbers; TSGI_CONFIG names the file', () => {
  const json = write('tsgi.json', JSON.stringify({
    http: ['127.0.0.1:7001', '/tmp/x.sock'], processes: 2, harakiri: 30, 'max-body-size': 1000, vacuum: true, app: './app.js',
  }, null, 2));
  const strip = (rows: Array<[string, string, string]>) => rows.map(([n, v]) => [n, v]);
  assert.deepEqual(strip(printed(['--config', json])), strip(printed(['--config', INI])));
  assert.deepEqual(strip(printed([], { TSGI_CONFIG: json })), strip(printed(['--config', INI])));
  assert.equal(printed(['--config', json]).find(([n]) => n === 'processes')![2], `${json}:6`);
});

test('booleans: true/false, yes/no, on/off, 1/0; false leaves the option off, even over the file', () => {
  const f = write('bool.ini', '[tsgi]\nvacuum = On\n');
  assert.ok(printed(['--config', f]).some(([n, v]) => n === 'vacuum' && v === 'true'));
  assert.ok(!printed(['--config', f], { TSGI_VACUUM: '0' }).some(([n, v]) => n === 'vacuum' && v === 'true'));
  const bad = runTsgi(['--config', write('badbool.ini', '[tsgi]\nvacuum = maybe\n'), 'app.js']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /badbool\.ini:2: "vacuum" needs true\/false/);
});

test('an unknown key is an error naming file:line (and the likely option); exit 2, one line', () => {
  const ini = write('typo.ini', '[tsgi]\nhttp = :8000\n\nprocesess = 4\n');
  const r = runTsgi(['--config', ini, 'app.js']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `tsgi: invalid configuration: ${ini}:4: unknown option "procesess" (did you mean processes?)\n`);
  const json = write('typo.json', '{\n  "http": ":8000",\n  "harakari": 4\n}\n');
  const j = runTsgi(['--config', json, 'app.js']);
  assert.equal(j.code, 2);
  assert.equal(j.stderr, `tsgi: invalid configuration: ${json}:3: unknown option "harakari" (did you mean harakiri?)\n`);
});

test('a bad value is checked by the flag parser and named by file:line', () => {
  const ini = write('value.ini', '[tsgi]\nharakiri = soon\n');
  const r = runTsgi(['--config', ini, 'app.js']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `tsgi: invalid configuration: ${ini}:2: harakiri needs seconds, not "soon"\n`);
  const e = runTsgi(['app.js'], { env: { TSGI_MAX_CONNECTIONS: 'lots' } });
  assert.equal(e.code, 2);
  assert.equal(e.stderr, 'tsgi: invalid configuration: TSGI_MAX_CONNECTIONS: max-connections needs a whole number, not "lots"\n');
});

test('file mistakes: a one-value option twice, no [tsgi] section, a key before any section, command-line-only keys, JSON arrays for one value', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['twice.ini', '[tsgi]\nprocesses = 2\nprocesses = 4\n', /twice\.ini:3: "processes" is already set at .*twice\.ini:2/],
    ['nosection.ini', '[tgsi]\nhttp = :1\n', /nosection\.ini: no \[tsgi\] section/],
    ['before.ini', 'http = :1\n[tsgi]\n', /before\.ini:1: an option before the \[tsgi\] section header/],
    ['config.ini', '[tsgi]\nconfig = other.ini\n', /config\.ini:2: "config" is only accepted on the command line/],
    ['noeq.ini', '[tsgi]\nvacuum\n', /noeq\.ini:2: expected "key = value"/],
    ['array.json', '{"processes": [1, 2]}', /array\.json:1: "processes" takes one value, not an array/],
    ['notjson.json', '{"processes": ', /notjson\.json: not valid JSON/],
  ];
  for (const [name, text, re] of cases) {
    const r = runTsgi(['--config', write(name, text), 'app.js']);
    assert.equal(r.code, 2, name);
    assert.match(r.stderr, re, name);
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
  }
  const missing = runTsgi(['--config', path.join(dir, 'absent.ini'), 'app.js']);
  assert.match(missing.stderr, /absent\.ini: no such file/);
});

test('an empty TSGI_* variable counts as unset: the file\'s value stands', () => {
  assert.deepEqual(printed(['--config', INI], { TSGI_PROCESSES: '' }).find(([n]) => n === 'processes'), ['processes', '2', `${INI}:8`]);
});

test('an unknown TSGI_* variable is a warning (the environment is shared), with the likely name', () => {
  const r = runTsgi(['--print-config', 'app.js'], { env: { TSGI_PROCESES: '4' } });
  assert.equal(r.code, 0);
  assert.match(r.stderr, /^tsgi: ignoring TSGI_PROCESES: no option --proceses \(did you mean TSGI_PROCESSES\?\)$/m);
});
