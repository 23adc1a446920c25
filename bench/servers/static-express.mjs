// express.static on node:http, serving DIR under /static. PORT and DIR from the environment.
import http from 'node:http';
import express from 'express';

const port = Number(process.env.PORT ?? 8011);
const app = express();
app.use('/static', express.static(process.env.DIR));

const server = http.createServer(app);
// wrk keeps its connections open for the whole run; no timeouts in the way.
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => { process.stdout.write(`ready ${port}\n`); });

const stop = () => { server.close(); server.closeAllConnections(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
