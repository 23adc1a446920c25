// A server configured by a file alone: listeners, the app and a limit come
// from tsgi.ini; the environment and the command line still override.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers/index.js';
import { TsgiProcess } from '../helpers/tsgi-process.js';

const dir = tempDir('tsgi-config-serve-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const app = path.join(dir, 'app.js');
fs.writeFileSync(app, `module.exports = async (req) => ({ body: 'from file ' + (await req.body.text()).length });\n`);
const ini = path.join(dir, 'tsgi.ini');
fs.writeFileSync(ini, `[tsgi]\nhttp = 127.0.0.1:0\napp = ${app}\nlimit-post = 10\n`);

test('tsgi --config tsgi.ini serves the file\'s app on the file\'s address with its limits', async () => {
  const t = new TsgiProcess(['--config', ini]);
  try {
    await t.ready();
    const ok = await fetch(`http://127.0.0.1:${t.port}/`, { method: 'POST', body: '12345' });
    assert.equal(await ok.text(), 'from file 5');
    const big = await fetch(`http://127.0.0.1:${t.port}/`, { method: 'POST', body: 'x'.repeat(11) });
    assert.equal(big.status, 413);
  } finally {
    await t.stop();
  }
});

test('the environment overrides the file (TSGI_MAX_BODY_SIZE), the command line both', async () => {
  const t = new TsgiProcess(['--config', ini, '--max-body-size', '1000'], { env: { TSGI_MAX_BODY_SIZE: '20' } });
  try {
    await t.ready();
    const r = await fetch(`http://127.0.0.1:${t.port}/`, { method: 'POST', body: 'x'.repeat(500) });
    assert.equal(await r.text(), 'from file 500');
  } finally {
    await t.stop();
  }
  const e = new TsgiProcess(['--config', ini], { env: { TSGI_MAX_BODY_SIZE: '20' } });
  try {
    await e.ready();
    assert.equal(await (await fetch(`http://127.0.0.1:${e.port}/`, { method: 'POST', body: 'x'.repeat(15) })).text(), 'from file 15');
    assert.equal((await fetch(`http://127.0.0.1:${e.port}/`, { method: 'POST', body: 'x'.repeat(21) })).status, 413);
  } finally {
    await e.stop();
  }
});
