// A file that sendfile(2) refuses is still sent: sendfile's EINVAL (and
// ENOSYS, ENOTSUP, EOPNOTSUPP) fall back to pread + write, as libuv's
// uv__fs_sendfile does. /proc/config.gz is a regular file with a size, so the
// reply path takes it like any other, but it has no splice support and Linux
// sendfile refuses it with EINVAL. The pread + write loop itself is the whole
// file path of the portable build (npm run test:portable runs this folder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { serve } from 'tsgi';
import { parseResponses, rawRequest } from '../helpers/index.js';

const REFUSED = '/proc/config.gz';

function readable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return fs.statSync(file).isFile() && fs.statSync(file).size > 0;
  } catch {
    return false;
  }
}

test('a file sendfile refuses (/proc/config.gz) arrives whole and in a range, and keep-alive goes on', { timeout: 20_000 }, async (t) => {
  if (!readable(REFUSED)) {
    t.skip(`${REFUSED} is missing here (a kernel without CONFIG_IKCONFIG_PROC)`);
    return;
  }
  const want = fs.readFileSync(REFUSED);
  const server = serve((req) => ({
    body: req.QUERY_STRING === 'part' ? { path: REFUSED, offset: 100, length: want.length - 200 } : { path: REFUSED },
  }), { listen: '127.0.0.1:0', log: () => {} });
  const port = server.addresses[0]!.port!;
  try {
    const r = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /?part HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeoutMs: 10_000 });
    const { responses } = parseResponses(r.data, { closed: r.closed });
    assert.equal(responses.length, 3);
    assert.equal(responses[0]!.status, 200);
    assert.ok(responses[0]!.body.equals(want), `whole file: ${responses[0]!.body.length} of ${want.length} bytes`);
    assert.ok(responses[1]!.body.equals(want.subarray(100, want.length - 100)), 'the range');
    assert.ok(responses[2]!.body.equals(want), 'the file again on the same connection');
  } finally {
    await server.close();
  }
});
