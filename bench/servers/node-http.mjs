// node:http hello world. PORT from the environment (default 8002).
import http from 'node:http';

const port = Number(process.env.PORT ?? 8002);
const BODY = 'Hello, World!\n';

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
  res.end(BODY);
});
// wrk keeps its connections open for the whole run; no timeouts in the way.
server.keepAliveTimeout = 60_000;

server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
const stop = () => { server.close(); server.closeAllConnections(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
