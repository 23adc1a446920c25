// node:http behaviours of the Node adapter that on-finished, Koa and Express
// rely on: an unread request still ends once the reply is done (node:http
// dumps it), destroying the socket with an error emits it on the socket, and
// the socket's plain properties can be assigned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fromNodeListener, serve, type ServerHandle } from 'tsgi';

function served(listener: (req: IncomingMessage, res: ServerResponse) => void): { server: ServerHandle; url: string } {
  const server = serve(fromNodeListener(listener), { listen: '127.0.0.1:0', log: () => {} });
  return { server, url: `http://127.0.0.1:${server.addresses[0]!.port!}` };
}

test("an unread request without a body emits 'end' once the reply is finished", async () => {
  const events: string[] = [];
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const { server, url } = served((req, res) => {
    req.on('end', () => {
      events.push(`end after finish: ${String(res.writableFinished)}`);
      ended();
    });
    res.on('finish', () => events.push('finish'));
    res.end('ok');
  });
  try {
    assert.equal(await (await fetch(url)).text(), 'ok');
    await done;
    assert.deepEqual(events, ['finish', 'end after finish: true']);
  } finally {
    await server.close();
  }
});

test("socket.destroy(err) emits 'error' on the socket for its listeners, then 'close' with hadError", async () => {
  let seen!: (v: string[]) => void;
  const result = new Promise<string[]>((resolve) => (seen = resolve));
  const { server, url } = served((req) => {
    const events: string[] = [];
    req.socket.on('error', (err) => events.push(`error ${err.message}`));
    req.socket.on('close', (hadError: boolean) => {
      events.push(`close ${String(hadError)}`);
      seen(events);
    });
    req.socket.destroy(new Error('boom'));
  });
  try {
    const r = await fetch(url);
    await r.text();
    assert.equal(r.status, 500);
    assert.deepEqual(await result, ['error boom', 'close true']);
  } finally {
    await server.close();
  }
});

test('the socket\'s plain properties can be assigned, as on a net.Socket', async () => {
  const { server, url } = served((req, res) => {
    const socket = req.socket as typeof req.socket & { encrypted?: boolean };
    const before = socket.encrypted;
    socket.encrypted = true;
    res.end(JSON.stringify({ before: before ?? null, after: socket.encrypted, remote: socket.remoteAddress }));
  });
  try {
    assert.deepEqual(await (await fetch(url)).json(), { before: null, after: true, remote: '127.0.0.1' });
  } finally {
    await server.close();
  }
});
