import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from 'tsgi';
import { rawRequest } from '../helpers/index.js';

test('a Location without a status is a 302, as CGI says; an explicit status wins', async () => {
  const server = serve((req) => req.PATH_INFO === '/created'
    ? { status: 201, headers: { location: '/thing/1' }, body: 'made' }
    : { headers: { location: '/elsewhere' } }, { listen: '127.0.0.1:0' });
  try {
    const port = server.addresses[0]!.port!;
    const a = await rawRequest(port, 'GET /go HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(a.data.toString('latin1'), /^HTTP\/1\.1 302 Found\r\n/);
    assert.match(a.data.toString('latin1'), /\r\nlocation: \/elsewhere\r\n/);
    const b = await rawRequest(port, 'GET /created HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(b.data.toString('latin1'), /^HTTP\/1\.1 201 Created\r\n/);
  } finally {
    await server.close();
  }
});
