// cmake-js builds the addon from CMakeLists.txt (npm run build:cmake), and the
// result is a working tsgi: built out of tree here, loaded with TSGI_ADDON,
// named by tsgi doctor, and serving a request. cmake-js would download Node's
// headers; npm_config_nodedir points it at the ones installed beside node, so
// this works offline.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, requirePeer, tempDir } from '../helpers/index.js';

const out = tempDir('tsgi-cmake-js-');
after(() => fs.rmSync(out, { recursive: true, force: true }));

/** A directory holding include/node/node_api.h: npm's nodedir, or node's own prefix. */
function nodeDir(): string | undefined {
  const candidates = [process.env.npm_config_nodedir, path.resolve(process.execPath, '..', '..')];
  return candidates.find((d): d is string => !!d && fs.existsSync(path.join(d, 'include', 'node', 'node_api.h')));
}

test('cmake-js builds the addon out of tree, and tsgi runs on it', { timeout: 300_000 }, (t) => {
  if (!requirePeer(t, 'cmake', 'cmake')) return;
  const nodedir = nodeDir();
  if (!nodedir) {
    if (process.env.CI) throw new Error('node_api.h not found beside node: install the Node headers');
    t.skip('node_api.h not found beside node (cmake-js would download the headers)');
    return;
  }
  const cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const build = spawnSync(process.execPath, [cmakeJs, 'build', '--directory', ROOT, '--out', out, '--parallel', '2', '--log-level', 'warn'], {
    cwd: ROOT, encoding: 'utf8', timeout: 280_000, killSignal: 'SIGKILL',
    env: { ...process.env, npm_config_nodedir: nodedir },
  });
  assert.equal(build.status, 0, `cmake-js build failed:\n${build.stdout}\n${build.stderr}`);
  const addon = path.join(out, 'Release', 'tsgi.node');
  assert.ok(fs.existsSync(addon), `cmake-js made no ${addon}`);
  // tsgi bench's engine beside it, and the test hooks' addon.
  for (const f of ['tsgi_loadgen.node', 'tsgi_testing.node']) assert.ok(fs.existsSync(path.join(out, 'Release', f)), `cmake-js made no ${f}`);
  assert.ok(!fs.existsSync(path.join(ROOT, 'CMakeCache.txt')), 'cmake-js wrote into the source tree');

  const env = { ...process.env, TSGI_ADDON: addon };
  const doctor = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'tsgi'), 'doctor', '--json'], { encoding: 'utf8', env, timeout: 30_000 });
  assert.equal(doctor.status, 0, `tsgi doctor failed:\n${doctor.stderr}`);
  const report = JSON.parse(doctor.stdout) as { addon: { path: string; source: string } };
  assert.deepEqual(report.addon, { path: addon, source: 'env' });

  const serveOne = `
    const { serve } = require('tsgi');
    const s = serve(() => ({ body: 'cmake-js' }), { listen: '127.0.0.1:0', log: () => {} });
    fetch('http://127.0.0.1:' + s.addresses[0].port + '/').then(async (r) => {
      const line = r.status + ' ' + await r.text();
      await s.close();
      console.log(line);
    }, (err) => { console.error(err); process.exit(3); });`;
  const served = spawnSync(process.execPath, ['-e', serveOne], { cwd: ROOT, encoding: 'utf8', env, timeout: 30_000, killSignal: 'SIGKILL' });
  assert.equal(served.status, 0, `serving on the cmake-js build failed:\n${served.stderr}`);
  assert.equal(served.stdout.trim(), '200 cmake-js');
});
