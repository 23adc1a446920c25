// WebSockets under a master: each worker's open sockets and messages reach
// --stats and /metrics; a SIGHUP reload lets a socket open on an old worker
// go on until --shutdown-timeout's last second (then 1001, going away),
// while new upgrades reach the new workers.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import WebSocket from 'ws';
import { Master, writeApp } from './helpers.js';
import { fetchText, parseMetrics, sample } from '../stats/helpers.js';
import { STATS_LINE } from '../stats/app.js';

const APP = writeApp('ws-pid.js', `
module.exports = (req) => req.tsgi.websocket
  ? { websocket: { message(ws, data) { ws.send(process.pid + ' ' + data); } } }
  : { body: 'pid ' + process.pid };
`);

const masters: Master[] = [];
after(async () => {
  for (const m of masters) await m.cleanup();
});

function open(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function ask(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (d) => resolve(String(d)));
    ws.once('close', () => reject(new Error('closed')));
    ws.send(text);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; at: number }> {
  return new Promise((resolve) => ws.once('close', (code) => resolve({ code, at: Date.now() })));
}

test('--stats counts each worker\'s WebSockets and their messages', { timeout: 30_000 }, async () => {
  const m = new Master(['--processes', '1', '--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', APP]);
  masters.push(m);
  await m.ready();
  const statsUrl = `http://127.0.0.1:${STATS_LINE.exec(m.log())![1]}`;
  const clients = await Promise.all([open(m.port), open(m.port), open(m.port)]);
  for (const [i, ws] of clients.entries()) assert.match(await ask(ws, `hi ${i}`), new RegExp(`^\\d+ hi ${i}$`));
  // Reports reach the master about once a second.
  let w: any;
  for (let i = 0; i < 50; i++) {
    const doc = JSON.parse((await fetchText(`${statsUrl}/`)).body);
    w = doc.workers[0];
    if (w.ws_messages_in === 3) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(w.websockets, 3);
  assert.equal(w.tunnels, 0);
  assert.equal(w.ws_messages_in, 3);
  assert.equal(w.ws_messages_out, 3);
  assert.equal(w.ws_bytes_in, 'hi 0'.length * 3);
  const met = parseMetrics((await fetchText(`${statsUrl}/metrics`)).body);
  assert.equal(sample(met, 'tsgi_websocket_connections', { worker: '1' }), 3);
  assert.equal(sample(met, 'tsgi_websocket_messages_total', { worker: '1', direction: 'in' }), 3);
  assert.equal(sample(met, 'tsgi_websocket_messages_total', { worker: '1', direction: 'out' }), 3);
  for (const ws of clients) ws.close();
  await Promise.all(clients.map(closed));
});

test('a reload lets open WebSockets go on until --shutdown-timeout, then 1001; new ones reach the new workers',
  { timeout: 60_000 }, async () => {
    const m = new Master(['--processes', '1', '--http', '127.0.0.1:0', '--shutdown-timeout', '4', APP]);
    masters.push(m);
    await m.ready();
    const old = await open(m.port);
    const oldPid = (await ask(old, 'who')).split(' ')[0];
    const end = closed(old);
    const reloadAt = Date.now();
    m.signal('SIGHUP');
    await m.waitFor(/reload done|workers? ready/, 2, 20_000);
    // The old worker still serves its socket after the new one took over.
    const fresh = await open(m.port);
    const freshPid = (await ask(fresh, 'who')).split(' ')[0];
    assert.notEqual(freshPid, oldPid, 'a new upgrade goes to a new worker');
    assert.equal((await ask(old, 'still there')).split(' ')[0], oldPid, 'the old socket is served by its worker');
    const { code, at } = await end;
    assert.equal(code, 1001, 'told: going away');
    const after = at - reloadAt;
    assert.ok(after >= 2_000 && after < 10_000, `closed ${after} ms after the reload, within the 4 s shutdown timeout`);
    assert.equal((await ask(fresh, 'ok')).split(' ')[0], freshPid);
    fresh.close();
    await closed(fresh);
  });
