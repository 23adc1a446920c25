// @fastify/static on Fastify, serving DIR under /static. PORT and DIR from the environment.
import Fastify from 'fastify';
import fastifyStatic from '@fastify/static';

const port = Number(process.env.PORT ?? 8012);
const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
await app.register(fastifyStatic, { root: process.env.DIR, prefix: '/static/' });
await app.listen({ host: '127.0.0.1', port });
process.stdout.write(`ready ${port}\n`);
const stop = () => { app.close().then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
