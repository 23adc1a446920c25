// docs/deploy.md and the README's nginx lines are what the peer tests run:
// every snippet marked `<!-- tested: NAME -->` is used by test/peers/, and
// the README's two lines are part of a tested snippet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers/index.js';
import { deploySnippet, deploySnippetNames } from '../helpers/peers.js';

// The snippets the peer tests configure their peers with.
const USED = [
  'nginx-uwsgi-unix', 'nginx-uwsgi-tcp', 'nginx-uwsgi-mount', 'nginx-scgi-unix', 'nginx-scgi-tcp', 'nginx-uwsgi-tls',
  'apache-uwsgi-unix', 'apache-uwsgi-tcp', 'apache-uwsgi-mount', 'apache-scgi-tcp', 'apache-scgi-unix', 'apache-uwsgi-tls',
  'tsgi-commands',
  'fastcgi-commands', 'nginx-fastcgi-unix', 'nginx-fastcgi-tcp', 'nginx-fastcgi-keepalive', 'nginx-fastcgi-mount',
  'apache-fastcgi-unix', 'apache-fastcgi-tcp', 'lighttpd-fastcgi-spawn', 'lighttpd-fastcgi-socket',
  'lighttpd-fastcgi-authorizer', 'nginx-websocket', 'apache-websocket', 'nginx-proxy-pass',
];
const TESTS = ['nginx.test.ts', 'apache.test.ts', 'fastcgi-nginx.test.ts', 'fastcgi-apache.test.ts',
  'fastcgi-lighttpd.test.ts', 'fastcgi-spawn.test.ts', 'websocket.test.ts', 'trusted-proxy.test.ts'];

test('every snippet marked tested in docs/deploy.md is one the peer tests use, and each is there once', () => {
  const names = deploySnippetNames();
  assert.deepEqual([...names].sort(), [...USED].sort());
  const src = TESTS.map((t) => fs.readFileSync(path.join(ROOT, 'test', 'peers', t), 'utf8'));
  for (const name of USED) {
    assert.ok(src.some((s) => s.includes(`'${name}'`)), `no peer test uses snippet ${name}`);
  }
});

test('the nginx snippets use the stock parameter files, and stream with buffering off', () => {
  for (const name of USED.filter((n) => n.startsWith('nginx-') && !n.endsWith('-tls') && !n.endsWith('-websocket') && n !== 'nginx-proxy-pass')) {
    const text = deploySnippet(name);
    const proto = name.includes('fastcgi') ? 'fastcgi' : name.includes('scgi') ? 'scgi' : 'uwsgi';
    assert.match(text, new RegExp(`include ${proto}_params;`), name);
    assert.match(text, new RegExp(`${proto}_buffering off;`), name);
  }
  const mount = deploySnippet('nginx-uwsgi-mount');
  assert.match(mount, /uwsgi_param SCRIPT_NAME \/app;/);
  assert.match(mount, /uwsgi_modifier1 30;/);
  assert.match(deploySnippet('apache-uwsgi-unix'), /ProxyPass "\/" "unix:\/run\/app\.sock\|uwsgi:\/\/localhost\/"/);
});

test('the README\'s nginx lines are part of a tested snippet', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Behind nginx or Apache'));
  assert.ok(readme.includes('## Behind nginx or Apache'), 'README has no "Behind nginx or Apache" section');
  const m = /```nginx\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'no nginx block in the README section');
  const lines = m[1]!.trim().split('\n').map((l) => l.trim());
  const snippet = deploySnippet('nginx-uwsgi-unix').split('\n').map((l) => l.trim());
  for (const line of lines) assert.ok(snippet.includes(line), `README line ${JSON.stringify(line)} is not in nginx-uwsgi-unix`);
  assert.ok(section.includes('docs/deploy.md'));
});
