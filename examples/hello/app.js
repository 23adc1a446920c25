// The smallest TSGI app: a function from a request to a reply.
// Run it with `npm start`, or `npx tsgi --http 127.0.0.1:8000 examples/hello/app.js`.
module.exports = (req) => {
  if (req.PATH_INFO === '/echo' && req.REQUEST_METHOD === 'POST') {
    // Streams the request body back, with backpressure both ways.
    return { headers: { 'content-type': req.CONTENT_TYPE || 'application/octet-stream' }, body: req.body };
  }
  return {
    status: 200,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body: `Hello from tsgi! You asked for ${req.PATH_INFO}\n`,
  };
};
