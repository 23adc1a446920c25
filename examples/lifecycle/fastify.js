// A Fastify app whose onClose hook must run to its end: tsgi calls
// fastify.close() after draining, on SIGTERM, a reload and a --max-requests
// recycle alike.
//   tsgi --http 127.0.0.1:8000 --processes 2 examples/lifecycle/fastify.js
const fastify = require('fastify')();

// Stands for a database pool: end() takes a while, as a real one's does.
const pool = {
  open: true,
  async end() {
    await new Promise((resolve) => setTimeout(resolve, 200));
    this.open = false;
  },
};

fastify.get('/', async () => ({ pid: process.pid, pool: pool.open ? 'open' : 'closed' }));

fastify.addHook('onClose', async () => {
  await pool.end();
  console.log(`pool closed in ${process.pid}`);
});

module.exports = fastify;
