// Fastify hello world, logger off. PORT from the environment (default 8003).
// Also the suite's GET /plaintext (servers/suite-app.mjs).
import Fastify from 'fastify';
import { PLAINTEXT } from './suite-app.mjs';

const port = Number(process.env.PORT ?? 8003);
const BODY = 'Hello, World!\n';

const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
app.get('/', (request, reply) => {
  reply.code(200).header('content-type', 'text/plain').send(BODY);
});
app.get('/plaintext', (request, reply) => {
  reply.code(200).header('content-type', 'text/plain').header('server', 'bench').send(PLAINTEXT);
});

await app.listen({ host: '127.0.0.1', port });
process.stdout.write(`ready ${port}\n`);
const stop = () => { app.close().then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
