// The suite's workloads (bench/suite.mjs) as one app, for tsgi (TSGI) and for
// Node's request listeners (node:http, node-fastcgi). Every server in the
// suite answers the same routes with the same bytes (bench/servers/suite_wsgi.py
// and suite.php are the Python and PHP copies):
//   GET  /               200 text/plain "Hello, World!\n"   (hello, headers20)
//   GET  /16k, /1m       200 text/plain, 16,384 or 1,048,576 bytes of "x"
//   POST /echo           200 text/plain, the request body's length in decimal,
//                        each server's cheapest way to see every byte (tsgi:
//                        read(into) into memory reused from request to request;
//                        /echo-bytes: the body whole, bytes(); /echo-stream: the
//                        body iterated, tsgi only)
//   GET  /api/users/:id  200 application/json, a small object (servers/api-*.mjs)
//   GET  /plaintext      200 text/plain "Hello, World!" with a Server field
//                        (TechEmpower's plaintext test; the suite pipelines it 16 deep)
export const HELLO = 'Hello, World!\n';
export const PLAINTEXT = 'Hello, World!';
const PLAIN = { 'content-type': 'text/plain', server: 'bench' };
const TEXT = { 'content-type': 'text/plain' };
const JSON_TYPE = { 'content-type': 'application/json' };
export const BODY_16K = Buffer.alloc(16 * 1024, 'x');
export const BODY_1M = Buffer.alloc(1024 * 1024, 'x');

/** The JSON route's object, the same in every server (bench/suite.mjs checks it field by field). */
export const user = (id) => ({ id, name: `User ${id}`, email: `user${id}@example.com`, roles: ['admin', 'dev'], active: true });
const USER_PREFIX = '/api/users/';

/** The body's length, read piece by piece as it arrives (POST /echo-stream). */
async function countBody(body) {
  let n = 0;
  for await (const piece of body) n += piece.byteLength;
  return n;
}

// What /echo reads bodies into. Requests read into it at once (they only
// count the bytes, as uWebSockets.js's app counts its views), so one will do.
const SCRATCH = Buffer.allocUnsafe(64 * 1024);

/** The body's length, read with read(into) (POST /echo). */
async function readBody(body) {
  let n = 0;
  for (let got; (got = await body.read(SCRATCH)) > 0;) n += got;
  return n;
}

/** A TSGI app (tsgi over HTTP, uwsgi, SCGI, FastCGI). */
export function tsgiApp(req) {
  const uri = req.REQUEST_URI;
  if (uri === '/') return { status: 200, headers: TEXT, body: HELLO };
  if (uri === '/plaintext') return { status: 200, headers: PLAIN, body: PLAINTEXT };
  if (uri === '/16k') return { status: 200, headers: TEXT, body: BODY_16K };
  if (uri === '/1m') return { status: 200, headers: TEXT, body: BODY_1M };
  if (uri === '/echo') return readBody(req.body).then((n) => ({ status: 200, headers: TEXT, body: String(n) }));
  if (uri === '/echo-bytes') return req.body.bytes(1 << 20).then((b) => ({ status: 200, headers: TEXT, body: String(b.length) }));
  if (uri === '/echo-stream') return countBody(req.body).then((n) => ({ status: 200, headers: TEXT, body: String(n) }));
  if (uri.startsWith(USER_PREFIX)) {
    return { status: 200, headers: JSON_TYPE, body: JSON.stringify(user(Number(uri.slice(USER_PREFIX.length)))) };
  }
  return { status: 404, headers: TEXT, body: 'not found\n' };
}

const send = (res, type, body) => {
  res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

/** A Node request listener (node:http, node-fastcgi). */
export function nodeListener(req, res) {
  const uri = req.url;
  if (uri === '/') return send(res, 'text/plain', HELLO);
  if (uri === '/plaintext') {
    res.writeHead(200, { ...PLAIN, 'content-length': PLAINTEXT.length });
    return res.end(PLAINTEXT);
  }
  if (uri === '/16k') return send(res, 'text/plain', BODY_16K);
  if (uri === '/1m') return send(res, 'text/plain', BODY_1M);
  if (uri === '/echo') {
    let n = 0;
    req.on('data', (c) => { n += c.length; });
    req.on('end', () => send(res, 'text/plain', String(n)));
    return undefined;
  }
  if (uri.startsWith(USER_PREFIX)) return send(res, 'application/json', JSON.stringify(user(Number(uri.slice(USER_PREFIX.length)))));
  res.writeHead(404, { 'content-type': 'text/plain' });
  return res.end('not found\n');
}
