// Who may talk to a uwsgi/SCGI listener: TCP peers in the allow-list
// (default: loopback); unix sockets always (file permissions govern them).
// A refused peer's connection is closed without a reply and logged; a bad
// entry makes serve() throw; binding beyond loopback logs a warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serve } from 'tsgi';
import { tempDir, captureLog } from '../helpers/index.js';
import {
  assertAllServe, assertServes, exchange, listenersOf, scgiGood, uwsgiRequest, withHealth, withServer, type Listener,
} from '../helpers/cgi-client.js';

const app = withHealth(() => ({ body: 'app' }));

async function assertRefused(l: Listener): Promise<void> {
  const data = l.protocol === 'scgi' ? scgiGood('/refused') : uwsgiRequest('/refused');
  const r = await exchange(l.target, data, { timeoutMs: 3000 });
  assert.ok(r.closed, `${l.label}: the connection is closed`);
  assert.equal(r.data.length, 0, `${l.label}: no reply at all, got ${JSON.stringify(r.data.toString('latin1'))}`);
}

test('allowFrom 10.0.0.0/8: TCP uwsgi and SCGI refuse 127.0.0.1 (closed, no reply, logged); unix and HTTP serve', async () => {
  const dir = tempDir('tsgi-allow-');
  const logs = captureLog();
  const server = serve(app, {
    listen: ['uwsgi://127.0.0.1:0', 'scgi://127.0.0.1:0', 'uwsgi://' + path.join(dir, 'u.sock'),
      'scgi://' + path.join(dir, 's.sock'), 'http://127.0.0.1:0'],
    allowFrom: ['10.0.0.0/8'],
    log: logs.log,
  });
  try {
    const ls = listenersOf(server);
    const tcpBinary = (l: Listener) => l.protocol !== 'http' && typeof l.target === 'object';
    assert.equal(ls.filter(tcpBinary).length, 2);
    for (const l of ls.filter(tcpBinary)) await assertRefused(l);
    for (const l of ls.filter(tcpBinary)) {
      // One line per listener (then one per thousand refusals), naming the peer and the listener.
      const port = (l.target as { port: number }).port;
      const line = await logs.wait(new RegExp(`:${port}\\b.*allow-list`));
      assert.match(line, /from 127\.0\.0\.1\b/, 'the log names the peer');
    }
    // The others serve: unix sockets are not subject to the allow-list, HTTP has none.
    await assertAllServe(server, { except: tcpBinary });
    // And the refused ones still refuse.
    for (const l of ls.filter(tcpBinary)) await assertRefused(l);
  } finally {
    await server.close(2000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('with the default allow-list (no allowFrom), 127.0.0.1 is served on TCP uwsgi and SCGI', async () => {
  await withServer(() => ({ body: 'ok' }), async ({ server, logs }) => {
    for (const l of listenersOf(server)) await assertServes(l);
    assert.deepEqual(logs.lines.filter((l) => /allow-list|warning/.test(l)), []);
  });
});

test('an IPv6 [::1] uwsgi listener with the default allow-list serves ::1', async () => {
  await withServer(() => ({ body: 'ok' }), async ({ server, logs }) => {
    const [l] = listenersOf(server);
    assert.deepEqual(l!.target, { host: '::1', port: (l!.target as { port: number }).port });
    assert.equal(server.addresses[0]!.host, '::1');
    await assertServes(l!);
    assert.deepEqual(logs.lines.filter((x) => /allow-list|warning/.test(x)), []);
  }, { listen: ['uwsgi://[::1]:0', 'scgi://[::1]:0'] });
});

test('an IPv6 [::1] listener with allowFrom 127.0.0.0/8 refuses ::1', async () => {
  await withServer(() => ({ body: 'ok' }), async ({ server, logs }) => {
    const [v6, v4] = listenersOf(server);
    await assertRefused(v6!);
    await logs.wait(/allow-list/);
    await assertServes(v4!);
  }, { listen: ['uwsgi://[::1]:0', 'uwsgi://127.0.0.1:0'], allowFrom: ['127.0.0.0/8'], check: false });
});

test('a per-listener allowFrom overrides the server-wide one', async () => {
  await withServer(() => ({ body: 'ok' }), async ({ server }) => {
    const [open, closed] = listenersOf(server);
    await assertServes(open!);
    await assertRefused(closed!);
  }, {
    listen: [{ address: '127.0.0.1:0', protocol: 'uwsgi', allowFrom: ['127.0.0.1'] }, 'uwsgi://127.0.0.1:0'],
    allowFrom: ['192.168.0.0/16'],
    check: false,
  });
});

test('a unix-socket uwsgi listener serves whatever allowFrom says', async () => {
  const dir = tempDir('tsgi-unix-');
  try {
    for (const allowFrom of [['10.0.0.0/8'], ['fd00::/8'], ['127.0.0.1']]) {
      await withServer(() => ({ body: 'ok' }), async ({ server, logs }) => {
        for (const l of listenersOf(server)) await assertServes(l);
        assert.deepEqual(logs.lines, []);
      }, { listen: ['uwsgi://' + path.join(dir, 'a.sock'), 'scgi://' + path.join(dir, 'b.sock')], allowFrom });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an invalid allowFrom entry makes serve() throw, naming it; nothing stays bound', async () => {
  const dir = tempDir('tsgi-badallow-');
  try {
    for (const bad of ['nonsense', '10.0.0.0/33', '::1/129', '10.0.0.0/x', '300.1.2.3', '']) {
      const sock = path.join(dir, 'h.sock');
      assert.throws(
        () => serve(app, { listen: ['http://' + sock, 'uwsgi://127.0.0.1:0'], allowFrom: [bad], log: () => {} }),
        (err: Error) => {
          assert.ok(err.message.includes(bad === '' ? '""' : bad) || (bad === '' && /network/.test(err.message)),
            `"${bad}" not named in: ${err.message}`);
          return true;
        },
        `allowFrom ["${bad}"] was accepted`);
      assert.equal(fs.existsSync(sock), false, `the unix socket of the first listener was left behind (allowFrom "${bad}")`);
    }
    assert.throws(() => serve(app, { listen: [{ address: '127.0.0.1:0', protocol: 'scgi', allowFrom: ['nonsense'] }],
      log: () => {} }), /nonsense/);
    // The same path can be served right after.
    const sock = path.join(dir, 'h.sock');
    const ok = serve(app, { listen: ['uwsgi://' + sock], log: () => {} });
    try {
      await assertServes(listenersOf(ok)[0]!);
    } finally {
      await ok.close(2000);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('binding a uwsgi or SCGI listener to 0.0.0.0 logs a warning about no authentication; loopback still served', async () => {
  await withServer(() => ({ body: 'ok' }), async ({ server, logs }) => {
    const warnings = logs.lines.filter((l) => /warning/.test(l));
    assert.equal(warnings.length, 2, warnings.join('\n'));
    for (const w of warnings) {
      assert.match(w, /no authentication/);
      assert.match(w, /0\.0\.0\.0/);
    }
    assert.ok(warnings.some((w) => /uwsgi/.test(w)) && warnings.some((w) => /scgi/i.test(w)));
    for (const l of listenersOf(server)) await assertServes(l);
  }, { listen: ['uwsgi://0.0.0.0:0', 'scgi://0.0.0.0:0', 'http://127.0.0.1:0'] });
});

test('a uwsgi listener on ":0" (all addresses, dual-stack) warns, and serves 127.0.0.1 (IPv4-mapped) and ::1 by default', async () => {
  await withServer(() => ({ body: 'ok' }), async ({ server, logs }) => {
    assert.match(logs.lines.find((l) => /warning/.test(l)) ?? '', /no authentication/);
    const port = server.addresses[0]!.port!;
    await assertServes({ protocol: 'uwsgi', target: { host: '::1', port }, label: '::1' });
    await assertServes({ protocol: 'uwsgi', target: { host: '127.0.0.1', port }, label: '127.0.0.1 as ::ffff:127.0.0.1' });
  }, { listen: ['uwsgi://:0'] });
});

test('a uwsgi listener on [::] (IPv6 only) warns and serves ::1 by default', async () => {
  await withServer(() => ({ body: 'ok' }), async ({ server, logs }) => {
    assert.match(logs.lines.find((l) => /warning/.test(l)) ?? '', /no authentication/);
    await assertServes({ protocol: 'uwsgi', target: { host: '::1', port: server.addresses[0]!.port! }, label: '::1' });
  }, { listen: ['uwsgi://[::]:0'] });
});

test('a uwsgi listener bound to loopback logs no warning', async () => {
  await withServer(() => ({ body: 'ok' }), async ({ logs }) => {
    assert.deepEqual(logs.lines, []);
  });
});
