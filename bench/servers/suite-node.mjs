// The suite's app (servers/suite-app.mjs) as a Node request listener on
// node:http (LISTEN=127.0.0.1:PORT) or on node-fastcgi (SERVER=node-fastcgi,
// LISTEN=/path.sock or 127.0.0.1:PORT).
import http from 'node:http';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { nodeListener } from './suite-app.mjs';

const listen = process.env.LISTEN;
if (!listen) throw new Error('LISTEN is not set');
const server = process.env.SERVER === 'node-fastcgi'
  ? createRequire(import.meta.url)('node-fastcgi').createServer(nodeListener)
  : http.createServer(nodeListener);
// The load generator keeps its connections open for the whole run: no timeouts in the way.
server.keepAliveTimeout = 60_000;

if (listen.startsWith('/')) {
  rmSync(listen, { force: true });
  server.listen(listen);
} else {
  const colon = listen.lastIndexOf(':');
  server.listen(Number(listen.slice(colon + 1)), listen.slice(0, colon));
}
server.on('listening', () => process.stdout.write(`ready ${listen}\n`));

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
