// docs/deploy.md's FastCGI section is what the FastCGI peer tests run: each
// snippet marked tested is used by one of test/peers/fastcgi-*.test.ts, and
// each keeps the lines that make it right (see the text around them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers/index.js';
import { deploySnippet, deploySnippetNames } from '../helpers/peers.js';

const FASTCGI = [
  'fastcgi-commands', 'nginx-fastcgi-unix', 'nginx-fastcgi-tcp', 'nginx-fastcgi-keepalive', 'nginx-fastcgi-mount',
  'apache-fastcgi-unix', 'apache-fastcgi-tcp', 'lighttpd-fastcgi-spawn', 'lighttpd-fastcgi-socket',
  'lighttpd-fastcgi-authorizer',
];
const TESTS = ['fastcgi-nginx.test.ts', 'fastcgi-apache.test.ts', 'fastcgi-lighttpd.test.ts', 'fastcgi-spawn.test.ts'];

test('every FastCGI snippet is in docs/deploy.md once and used by a FastCGI peer test', () => {
  const names = deploySnippetNames();
  for (const name of FASTCGI) assert.equal(names.filter((n) => n === name).length, 1, name);
  assert.deepEqual(names.filter((n) => n.includes('fastcgi')).sort(), [...FASTCGI].sort());
  const src = TESTS.map((t) => fs.readFileSync(path.join(ROOT, 'test', 'peers', t), 'utf8'));
  for (const name of FASTCGI) assert.ok(src.some((s) => s.includes(`'${name}'`)), `no FastCGI peer test uses snippet ${name}`);
});

test('the nginx FastCGI snippets: stock fastcgi_params, PATH_INFO from a split that takes newlines, streaming off', () => {
  for (const name of FASTCGI.filter((n) => n.startsWith('nginx-'))) {
    const text = deploySnippet(name);
    const locations = text.split(/\n\s*location /).slice(1);
    assert.equal(locations.length, 2, `${name}: a buffered location and a streaming one`);
    for (const loc of locations) {
      assert.match(loc, /include fastcgi_params;/, name);
      assert.match(loc, /fastcgi_split_path_info \(\?s\)\^/, `${name}: (?s), or a %0A in the path breaks the split`);
      assert.match(loc, /fastcgi_param PATH_INFO \$fastcgi_path_info;/, name);
    }
    assert.match(locations[1]!, /fastcgi_buffering off;/, name);
    assert.match(locations[1]!, /fastcgi_request_buffering off;/, name);
    assert.match(text, /client_max_body_size 100m;/, name);
  }
  const keep = deploySnippet('nginx-fastcgi-keepalive');
  assert.match(keep, /upstream tsgi_fastcgi \{[^}]*keepalive \d+;/);
  assert.equal(keep.match(/fastcgi_keep_conn on;/g)?.length, 2);
  assert.match(deploySnippet('nginx-fastcgi-mount'), /fastcgi_split_path_info \(\?s\)\^\(\/app\)\(\/\.\*\)\$;/);
});

test('the Apache FastCGI snippets: PATH_INFO unescaped, packets flushed', () => {
  assert.match(deploySnippet('apache-fastcgi-unix'), /ProxyPass "\/" "unix:\/run\/app\.sock\|fcgi:\/\/localhost\/" flushpackets=on/);
  assert.match(deploySnippet('apache-fastcgi-tcp'), /ProxyPass "\/" "fcgi:\/\/127\.0\.0\.1:9000\/" flushpackets=on/);
  for (const name of ['apache-fastcgi-unix', 'apache-fastcgi-tcp']) {
    assert.match(deploySnippet(name), /SetEnvIf Request_URI \. proxy-fcgi-pathinfo=unescape/, name);
  }
});

test('the lighttpd snippets and the command lines', () => {
  const spawned = deploySnippet('lighttpd-fastcgi-spawn');
  assert.match(spawned, /"bin-path" => "\/usr\/local\/bin\/tsgi \/srv\/app\/app\.js"/);
  assert.match(spawned, /"socket" => "\/run\/app\.sock"/);
  assert.match(deploySnippet('lighttpd-fastcgi-authorizer'), /"mode" => "authorizer"/);
  const running = deploySnippet('lighttpd-fastcgi-socket');
  assert.doesNotMatch(running, /bin-path/);
  for (const text of [spawned, running]) {
    assert.match(text, /"fix-root-scriptname" => "enable"/);
    assert.match(text, /"check-local" => "disable"/);
    assert.match(text, /server\.modules \+= \( "mod_fastcgi" \)/);
  }
  const commands = deploySnippet('fastcgi-commands').split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
  assert.deepEqual(commands, [
    'tsgi --fastcgi-socket /run/app.sock --chown-socket :www-data --chmod-socket 660 app.js',
    'tsgi --fastcgi-socket 127.0.0.1:9000 app.js',
    'spawn-fcgi -s /run/app.sock -n -- tsgi app.js',
  ]);
});
