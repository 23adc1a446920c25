// tsgi/http's unref() lets a process exit while its server listens, as
// node:http's does; closeIdleConnections() closes kept-alive connections
// that wait for a request and leaves the server serving; getConnections()
// counts them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer } from 'tsgi/http';
import { RawConnection } from '../helpers/index.js';

test('unref(): a process whose only server is unref\'d exits; ref() keeps it', { timeout: 30_000 }, () => {
  const script = (unref: boolean) => `
    const { createServer } = require('tsgi/http');
    const s = createServer((req, res) => res.end('x'));
    s.listen(0, '127.0.0.1', () => { ${unref ? 's.unref();' : 's.unref(); s.ref();'} console.log('listening'); });
  `;
  const gone = spawnSync(process.execPath, ['-e', script(true)], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(gone.status, 0, gone.stderr);
  assert.match(gone.stdout, /listening/);
  const kept = spawnSync(process.execPath, ['-e', script(false)], { encoding: 'utf8', timeout: 3_000 });
  assert.equal(kept.signal, 'SIGTERM', 'still running when the 3 s timeout killed it');
});

test('closeIdleConnections() closes idle kept-alive connections; getConnections() counts them', async () => {
  const server = createServer((req, res) => res.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const conns: RawConnection[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const c = await RawConnection.open(port);
      conns.push(c);
      await c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await c.responses(1);
    }
    const count = await new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
    assert.equal(count, 3);
    server.closeIdleConnections();
    for (const c of conns) assert.equal(await c.waitClosed(2000), true);
    const fresh = await RawConnection.open(port);
    conns.push(fresh);
    await fresh.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal((await fresh.responses(1))[0]!.body.toString(), 'ok', 'still serving');
  } finally {
    for (const c of conns) c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
