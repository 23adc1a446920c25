// tsgi's WebSocket replies (TSGI 1.1): echoes every message; a message that
// starts with PREFIX (default "pub:", what `tsgi bench --ws-mode subscribe`
// sends) is published to the topic every connection subscribed to on open,
// which reaches every subscriber but the sender, as ws-uws.mjs does.
// PORT from the environment (default 8013); TSGI_ROOT as in tsgi.mjs.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname;
const { serve } = require(`${root.replace(/\/$/, '')}/dist/index.js`);

const port = Number(process.env.PORT ?? 8013);
const text = process.env.PREFIX ?? 'pub:';
const bytes = Buffer.from(text);

function published(data, isBinary) {
  if (!isBinary) return data.startsWith(text);
  if (data.length < bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (data[i] !== bytes[i]) return false;
  return true;
}

const handlers = {
  open(ws) { ws.subscribe('all'); },
  message(ws, data, isBinary) {
    if (published(data, isBinary)) ws.publish('all', data, { binary: isBinary });
    else ws.send(data, { binary: isBinary });
  },
};

const server = serve((req) => req.tsgi.websocket
  ? { websocket: handlers }
  : { status: 426, headers: { 'content-type': 'text/plain' }, body: 'websocket only' },
{ listen: `127.0.0.1:${port}` });

const stop = () => { server.close(1000).then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`ready ${port}\n`);
