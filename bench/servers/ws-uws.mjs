// uWebSockets.js (the published build @trufflesuite/uws-js-unofficial): echoes
// every message; a message that starts with PREFIX (default "pub:") is
// published to the topic every connection subscribed to on open, which
// reaches every subscriber but the sender. PORT from the environment (default 8012).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const uWS = require('@trufflesuite/uws-js-unofficial');

const port = Number(process.env.PORT ?? 8012);
const prefix = Buffer.from(process.env.PREFIX ?? 'pub:');

let listenSocket = null;
uWS.App()
  .ws('/*', {
    compression: uWS.DISABLED,
    maxPayloadLength: 16 << 20,
    maxBackpressure: 64 << 20,
    idleTimeout: 0,
    open(ws) { ws.subscribe('all'); },
    message(ws, message, isBinary) {
      const head = Buffer.from(message, 0, Math.min(prefix.length, message.byteLength));
      if (head.length === prefix.length && head.equals(prefix)) ws.publish('all', message, isBinary);
      else ws.send(message, isBinary);
    },
  })
  .any('/*', (res) => { res.writeStatus('426 Upgrade Required').end('websocket only'); })
  .listen('127.0.0.1', port, (socket) => {
    if (!socket) {
      process.stderr.write(`ws-uws: cannot listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
    listenSocket = socket;
    process.stdout.write(`ready ${uWS.us_socket_local_port(socket)}\n`);
  });

const stop = () => {
  if (listenSocket) uWS.us_listen_socket_close(listenSocket);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
