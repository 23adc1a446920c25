// node-fastcgi hello world (the npm package node-fastcgi: node:http's server
// API over FastCGI) on one listener given as LISTEN: "127.0.0.1:18301" or a
// unix socket path "/tmp/app.sock". The same reply as bench/servers/tsgi-cgi.mjs:
// 200, text/plain, Content-Length 14, "Hello, World!\n".
import { createRequire } from 'node:module';
import { rmSync } from 'node:fs';

const require = createRequire(import.meta.url);
const fcgi = require('node-fastcgi');

const listen = process.env.LISTEN;
if (!listen) throw new Error('LISTEN is not set');
const BODY = 'Hello, World!\n';
const HEADERS = { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(BODY)) };

const server = fcgi.createServer((req, res) => {
  res.writeHead(200, HEADERS);
  res.end(BODY);
});

const colon = listen.lastIndexOf(':');
if (listen.startsWith('/')) {
  rmSync(listen, { force: true });
  server.listen(listen);
} else {
  server.listen(Number(listen.slice(colon + 1)), listen.slice(0, colon));
}
server.on('listening', () => process.stdout.write(`ready ${listen}\n`));

const stop = () => { server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 1000).unref(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
