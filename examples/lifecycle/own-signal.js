// An app written for `node app.js`, with its own SIGTERM handler that awaits
// the app's close(). Under tsgi the handler runs to its end: on SIGTERM, and
// in a worker that is reloaded or recycled (tsgi calls it as the SIGTERM a
// plain process would have got); the process ends once it is done.
//   tsgi --http 127.0.0.1:8000 examples/lifecycle/own-signal.js
const express = require('express');

const app = express();
app.get('/', (req, res) => res.json({ pid: process.pid }));

process.on('SIGTERM', async () => {
  await new Promise((resolve) => setTimeout(resolve, 300));  // stands for `await queue.close()`
  console.log(`own SIGTERM handler done in ${process.pid}`);
});

module.exports = app;
