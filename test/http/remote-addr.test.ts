// REMOTE_ADDR and REMOTE_PORT of a TCP client, as the core formats them at
// accept: dotted quads with one-, two- and three-digit parts (clients bound
// to addresses of 127/8, all loopback on Linux), and IPv4-mapped IPv6 on a
// dual-stack listener shown as plain IPv4, as nginx does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { serve, type ServerHandle } from 'tsgi';

/** One GET from `localAddress`; returns the reply's body and the client's port. */
function askFrom(port: number, host: string, localAddress: string): Promise<{ body: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host, localAddress });
    const chunks: Buffer[] = [];
    let localPort = 0;
    sock.on('connect', () => {
      localPort = sock.localPort!;
      sock.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ body: text.slice(text.indexOf('\r\n\r\n') + 4), localPort });
    });
    sock.setTimeout(5000, () => sock.destroy(new Error('timed out')));
  });
}

describe('REMOTE_ADDR of TCP clients', () => {
  let server: ServerHandle;
  let v4: number;
  let dual: number | undefined;

  before(() => {
    const listen = ['127.0.0.1:0'];
    const hasV6 = Object.values(os.networkInterfaces()).flat().some((i) => i?.internal && i.family === 'IPv6');
    if (hasV6) listen.push(':0');  // all addresses, dual-stack
    server = serve((req) => ({ body: `${req.REMOTE_ADDR} ${req.REMOTE_PORT}` }), { listen, log: () => {} });
    v4 = server.addresses[0]!.port!;
    dual = server.addresses[1]?.port;
  });
  after(() => server.close());

  // Linux routes all of 127/8 to the loopback interface; elsewhere only
  // 127.0.0.1 can be bound.
  const sources = process.platform === 'linux'
    ? ['127.0.0.1', '127.10.200.5', '127.99.0.255', '127.255.9.10']
    : ['127.0.0.1'];

  for (const from of sources) {
    test(`from ${from}`, async () => {
      const r = await askFrom(v4, '127.0.0.1', from);
      assert.equal(r.body, `${from} ${r.localPort}`);
    });
  }

  test('IPv4-mapped on a dual-stack listener: plain IPv4', async (t) => {
    if (dual === undefined) return t.skip('no IPv6 on this host');
    const from = process.platform === 'linux' ? '127.10.20.3' : '127.0.0.1';
    const r = await askFrom(dual, '127.0.0.1', from);
    assert.equal(r.body, `${from} ${r.localPort}`);
  });

  test('IPv6 loopback on a dual-stack listener', async (t) => {
    if (dual === undefined) return t.skip('no IPv6 on this host');
    const r = await askFrom(dual, '::1', '::1');
    assert.equal(r.body, `::1 ${r.localPort}`);
  });
});
