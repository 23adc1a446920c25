// One request over HTTP/1.1, uwsgi, SCGI or FastCGI with Node's own sockets:
// the benchmark scripts check each target's reply with this code before any
// load, so a bug in the load generator's framers cannot make a wrong reply count.
import { request as httpRequest } from 'node:http';
import net from 'node:net';

/** `host:port` or `unix:/path` → net.connect options. */
export function connectOptions(address) {
  if (address.startsWith('unix:')) return { path: address.slice(5) };
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/**
 * The CGI variables a web server would send for this request (a subset of
 * nginx's uwsgi_params/fastcgi.conf, enough for WSGI, PHP and tsgi), plus
 * `params` (SCRIPT_FILENAME for php-fpm) and HTTP_* for `headers`.
 */
export function cgiVars({ address, method = 'GET', path = '/', headers = {}, body, params = {} }) {
  const tcp = !address.startsWith('unix:');
  const host = tcp ? address.slice(0, address.lastIndexOf(':')) : 'localhost';
  const port = tcp ? address.slice(address.lastIndexOf(':') + 1) : '80';
  const [p, q = ''] = path.split('?');
  const vars = {
    REQUEST_METHOD: method, REQUEST_URI: path, DOCUMENT_URI: p, SCRIPT_NAME: p, PATH_INFO: p, QUERY_STRING: q,
    CONTENT_TYPE: '', CONTENT_LENGTH: String(body ? body.length : 0),
    SERVER_PROTOCOL: 'HTTP/1.1', GATEWAY_INTERFACE: 'CGI/1.1', SERVER_SOFTWARE: 'bench',
    REMOTE_ADDR: '127.0.0.1', REMOTE_PORT: '50000', SERVER_ADDR: host, SERVER_PORT: port, SERVER_NAME: host, HTTP_HOST: host,
  };
  for (const [k, v] of Object.entries(headers)) vars[`HTTP_${k.toUpperCase().replace(/-/g, '_')}`] = v;
  return { ...vars, ...params };
}

export function uwsgiPacket(vars, body) {
  const parts = Object.entries(vars).flatMap(([k, v]) => {
    const kb = Buffer.from(k, 'latin1'), vb = Buffer.from(v, 'latin1');
    const kl = Buffer.alloc(2), vl = Buffer.alloc(2);
    kl.writeUInt16LE(kb.length);
    vl.writeUInt16LE(vb.length);
    return [kl, kb, vl, vb];
  });
  const block = Buffer.concat(parts);
  const head = Buffer.alloc(4);
  head.writeUInt16LE(block.length, 1);
  return Buffer.concat([head, block, body ?? Buffer.alloc(0)]);
}

export function scgiPacket(vars, body) {
  const { CONTENT_LENGTH, ...rest } = vars;
  const block = Buffer.concat([['CONTENT_LENGTH', CONTENT_LENGTH], ['SCGI', '1'], ...Object.entries(rest)]
    .map(([k, v]) => Buffer.from(`${k}\0${v}\0`, 'latin1')));
  return Buffer.concat([Buffer.from(`${block.length}:`), block, Buffer.from(','), body ?? Buffer.alloc(0)]);
}

function fcgiRecord(type, content) {
  const pad = (8 - (content.length % 8)) % 8;
  const h = Buffer.from([1, type, 0, 1, content.length >> 8, content.length & 0xff, pad, 0]);
  return Buffer.concat([h, content, Buffer.alloc(pad)]);
}

/** A FastCGI RESPONDER request, id 1, without FCGI_KEEP_CONN (the server closes after END_REQUEST). */
export function fcgiPacket(vars, body) {
  const len = (n) => (n < 128 ? Buffer.from([n]) : Buffer.from([(n >>> 24) | 0x80, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]));
  const pairs = Buffer.concat(Object.entries(vars).map(([k, v]) => Buffer.concat([len(k.length), len(v.length), Buffer.from(k + v, 'latin1')])));
  const stdin = [];
  for (let i = 0; body && i < body.length; i += 32768) stdin.push(fcgiRecord(5, body.subarray(i, i + 32768)));
  return Buffer.concat([fcgiRecord(1, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])), fcgiRecord(4, pairs), fcgiRecord(4, Buffer.alloc(0)),
    ...stdin, fcgiRecord(5, Buffer.alloc(0))]);
}

/** A CGI-style reply (`Status:` line or none) or an HTTP one (uwsgi may answer either) → { status, headers, body }. */
function parseReply(raw, { http }) {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no head in ${JSON.stringify(raw.subarray(0, 200).toString('latin1'))}`);
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  let status;
  if (/^HTTP\/1\.[01] \d{3}/.test(lines[0])) status = Number(lines.shift().slice(9, 12));
  else if (http) throw new Error(`status line ${JSON.stringify(lines[0])}`);
  const headers = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  if (status === undefined) status = headers.status ? Number(headers.status.slice(0, 3)) : 200;
  return { status, headers, body: raw.subarray(end + 4), headBytes: end + 4 };
}

export function rawExchange(address, packet, timeoutMs) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(connectOptions(address), () => sock.write(packet));
    const chunks = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => resolve(Buffer.concat(chunks)));
    sock.on('error', reject);
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error('timeout')));
  });
}

export function fcgiExchange(address, packet, timeoutMs) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(connectOptions(address), () => sock.write(packet));
    let buf = Buffer.alloc(0);
    const out = [];
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 8) {
        const len = buf.readUInt16BE(4), pad = buf[6];
        if (buf.length < 8 + len + pad) return;
        const [type, content] = [buf[1], buf.subarray(8, 8 + len)];
        buf = buf.subarray(8 + len + pad);
        if (type === 6) out.push(content);
        if (type === 3) {
          sock.destroy();
          if (content[4] !== 0) reject(new Error(`END_REQUEST protocolStatus ${content[4]}`));
          else resolve(Buffer.concat(out));
          return;
        }
      }
    });
    sock.on('end', () => reject(new Error('closed before END_REQUEST')));
    sock.on('error', reject);
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error('timeout')));
  });
}

function httpExchange(address, { method, path, headers, body }, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ ...connectOptions(address), method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks),
        first: `HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}`,
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

/**
 * An HTTP GET's reply as text, head (status line and headers as Node parsed
 * them) and body: what the scripts' verify() functions read.
 */
export function httpText(address, path, timeoutMs) {
  return httpExchange(address, { method: 'GET', path, headers: {} }, timeoutMs).then((r) => {
    const head = [r.first, ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
    return `${head}\r\n\r\n${r.body.toString('latin1')}`;
  });
}

/**
 * One request; resolves { status, headers (lower-case names), body (Buffer), first }.
 * req: { protocol: http|uwsgi|scgi|fastcgi, address, method, path, headers, body (Buffer), params }.
 */
export async function exchange(req, timeoutMs = 3000) {
  const r = { method: 'GET', path: '/', headers: {}, ...req };
  if (r.protocol === 'http') return httpExchange(r.address, r, timeoutMs);
  const vars = cgiVars(r);
  if (r.protocol === 'fastcgi') {
    const raw = await fcgiExchange(r.address, fcgiPacket(vars, r.body), timeoutMs);
    return { ...parseReply(raw, { http: false }), first: raw.subarray(0, raw.indexOf('\r\n')).toString('latin1') };
  }
  const raw = await rawExchange(r.address, r.protocol === 'scgi' ? scgiPacket(vars, r.body) : uwsgiPacket(vars, r.body), timeoutMs);
  return { ...parseReply(raw, { http: false }), first: raw.subarray(0, raw.indexOf('\r\n')).toString('latin1') };
}
