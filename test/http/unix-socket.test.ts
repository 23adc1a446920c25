// Unix domain sockets: a path with its permissions (and the file removed on
// close), and a Linux abstract name; both serve HTTP like TCP does.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serve } from 'tsgi';
import type { App } from 'tsgi';
import { execFile } from 'node:child_process';
import { have, header, RawConnection, requirePeer, tempDir } from '../helpers/index.js';

function curlAbstract(name: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile('curl', ['--silent', '--show-error', '--max-time', '10', '--abstract-unix-socket', name, ...args],
      (err, stdout, stderr) => {
        const code = err ? Number((err as { code?: unknown }).code ?? -1) : 0;
        resolve({ stdout, stderr, code });
      });
  });
}

const app: App = async (req) => ({
  headers: { 'X-Remote': `[${req.REMOTE_ADDR}]:[${req.REMOTE_PORT}]`, 'X-Server': `${req.SERVER_NAME}:${req.SERVER_PORT}` },
  body: req.REQUEST_METHOD === 'POST' ? `posted ${await req.body.text()}` : `hello ${req.PATH_INFO}`,
});

async function exercise(target: string): Promise<void> {
  const c = await RawConnection.open(target);
  try {
    await c.write('GET /one HTTP/1.1\r\nHost: example.com:8080\r\n\r\n' +
      'POST /two HTTP/1.1\r\nHost: example.com\r\nContent-Length: 4\r\n\r\nbody');
    const res = await c.responses(2);
    assert.equal(res[0]!.body.toString(), 'hello /one');
    assert.equal(header(res[0]!, 'x-server'), 'example.com:8080', 'SERVER_NAME/PORT come from Host');
    assert.equal(header(res[1]!, 'x-server'), 'example.com:80');
    assert.equal(res[1]!.body.toString(), 'posted body');
    assert.equal(c.closed, false, 'keep-alive over unix sockets');
    await c.write('GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const all = await c.responses(3);
    assert.equal(all[2]!.body.toString(), 'hello /bye');
    assert.equal(await c.waitClosed(2000), true);
  } finally {
    c.destroy();
  }
  // And a malformed request is refused the same way.
  const bad = await RawConnection.open(target);
  try {
    await bad.write('GET / HTTP/1.1\r\n\r\n');
    const [r] = await bad.responses(1);
    assert.equal(r!.status, 400);
    assert.equal(await bad.waitClosed(2000), true);
  } finally {
    bad.destroy();
  }
}

describe('unix sockets', () => {
  test('a socket file with socketMode 0o660, removed after close', async () => {
    const dir = tempDir();
    const p = path.join(dir, 's.sock');
    const server = serve(app, { listen: p, socketMode: 0o660, log: () => {} });
    try {
      const st = fs.statSync(p);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o660);
      assert.deepEqual(server.addresses.map((a) => a.address), [p]);
      assert.equal(server.addresses[0]!.port, undefined);
      await exercise(p);
    } finally {
      await server.close();
    }
    assert.equal(fs.existsSync(p), false, 'the socket file is removed on close');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the unix: prefix and another mode', async () => {
    const dir = tempDir();
    const p = path.join(dir, 'other.sock');
    const server = serve(app, { listen: `unix:${p}`, socketMode: 0o600, log: () => {} });
    try {
      assert.equal(fs.statSync(p).mode & 0o777, 0o600);
      await exercise(p);
    } finally {
      await server.close();
    }
    assert.equal(fs.existsSync(p), false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a stale socket file left by a dead server is replaced', async () => {
    const dir = tempDir();
    const p = path.join(dir, 'stale.sock');
    const first = serve(app, { listen: p, log: () => {} });
    // Simulate a crash: the file stays but nothing listens on it.
    const saved = path.join(dir, 'saved');
    fs.renameSync(p, saved);
    await first.close();
    fs.renameSync(saved, p);
    const second = serve(app, { listen: p, log: () => {} });
    try {
      await exercise(p);
    } finally {
      await second.close();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a live socket is not taken over', async () => {
    const dir = tempDir();
    const p = path.join(dir, 'live.sock');
    const first = serve(app, { listen: p, log: () => {} });
    try {
      assert.throws(() => serve(app, { listen: p, log: () => {} }), /in use|EADDRINUSE/i);
      await exercise(p);
    } finally {
      await first.close();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('an abstract socket (Linux)', { skip: process.platform !== 'linux' && 'abstract sockets are Linux only' }, async (t) => {
    const name = `tsgi-test-${process.pid}`;
    const server = serve(app, { listen: `@${name}`, log: () => {} });
    try {
      assert.equal(server.addresses[0]!.address, `@${name}`);
      // Node before 22 pads abstract names to the whole sun_path when it
      // connects, so it cannot reach a name bound at its exact length (as tsgi,
      // systemd, curl and Python do); curl stands in for it then.
      const nodeCanConnect = await RawConnection.open(`\0${name}`).then((c) => {
        c.destroy();
        return true;
      }, () => false);
      if (nodeCanConnect) {
        await exercise(`\0${name}`);
      } else {
        t.diagnostic('node cannot connect to exact-length abstract names; using curl');
        if (!requirePeer(t, 'curl', 'curl')) return;
        // (curl 7.88 does not reuse unix socket connections, so no reuse check here.)
        const r = await curlAbstract(name, ['--http1.1', '--include', 'http://x/one', 'http://x/two']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^HTTP\/1\.1 200 OK\r\n/);
        assert.ok(r.stdout.includes('hello /one') && r.stdout.includes('hello /two'));
        const post = await curlAbstract(name, ['--data-binary', 'abc', 'http://x/post']);
        assert.equal(post.stdout, 'posted abc');
        const bad = await curlAbstract(name, ['--include', '-H', 'Bad Name: 1', 'http://x/']);
        assert.match(bad.stdout, /^HTTP\/1\.1 400 /);
      }
    } finally {
      await server.close();
    }
    if (have('curl')) {
      const gone = await curlAbstract(name, ['http://x/']);
      assert.equal(gone.code, 7, 'refused after close');
    }
  });

  test('TCP and unix listeners on one server', async () => {
    const dir = tempDir();
    const p = path.join(dir, 'both.sock');
    const server = serve(app, { listen: ['127.0.0.1:0', p], log: () => {} });
    try {
      assert.equal(server.addresses.length, 2);
      await exercise(p);
      const c = await RawConnection.open(server.addresses[0]!.port!);
      try {
        await c.write('GET /tcp HTTP/1.1\r\nHost: x\r\n\r\n');
        const [r] = await c.responses(1);
        assert.equal(r!.body.toString(), 'hello /tcp');
        assert.match(header(r!, 'x-remote')!, /^\[127\.0\.0\.1\]:\[\d+\]$/);
      } finally {
        c.destroy();
      }
    } finally {
      await server.close();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
