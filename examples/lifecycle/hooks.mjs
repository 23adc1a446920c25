// A TSGI app with lifecycle hooks (TSGI 1.1): startup() is awaited before the
// first request is accepted, shutdown() after the last one has finished.
//   tsgi --http 127.0.0.1:8000 examples/lifecycle/hooks.mjs
let db;

export async function startup() {
  db = { state: 'connected', queries: 0 };  // stands for `await connect(...)`
  await new Promise((resolve) => setTimeout(resolve, 100));
  console.log(`startup done in ${process.pid}`);
}

export default (req) => {
  db.queries++;
  return { headers: { 'content-type': 'text/plain' }, body: `db ${db.state}, ${db.queries} queries\n` };
};

export async function shutdown() {
  await new Promise((resolve) => setTimeout(resolve, 100));
  db.state = 'closed';
  console.log(`shutdown done in ${process.pid} after ${db.queries} queries`);
}
