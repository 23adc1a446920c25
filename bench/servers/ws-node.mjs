// The `ws` package on node:http: echoes every message; a message that starts
// with PREFIX (default "pub:", what `tsgi bench --ws-mode subscribe` sends)
// goes to every other client instead, as uWebSockets.js's ws.publish does.
// PORT from the environment (default 8011).
import http from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 8011);
const prefix = Buffer.from(process.env.PREFIX ?? 'pub:');

const server = http.createServer((req, res) => {
  res.writeHead(426, { 'content-type': 'text/plain' });
  res.end('websocket only');
});
// No per-message deflate: none of the servers compared here compresses.
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 16 << 20 });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (data.length >= prefix.length && prefix.equals(data.subarray(0, prefix.length))) {
      for (const peer of wss.clients) if (peer !== ws && peer.readyState === 1) peer.send(data, { binary: isBinary });
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
  ws.on('error', () => {});
});

server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${server.address().port}\n`));
const stop = () => {
  for (const ws of wss.clients) ws.terminate();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
