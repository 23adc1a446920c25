// The command line's static flags, spelled as uWSGI's: --static-map
// (repeatable, a directory or one file), --static-index, --check-static,
// --static-expires-type and --offload-root reach the core; a bad one is a
// usage error naming it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { header, parseResponses, rawRequest, tempDir } from '../helpers/index.js';
import { runTsgi, TsgiProcess } from '../helpers/tsgi-process.js';

const dir = tempDir('tsgi-static-cli-');
const pub = path.join(dir, 'public');
let proc: TsgiProcess;

async function get(target: string, extra = ''): Promise<ReturnType<typeof parseResponses>['responses'][number]> {
  const { data } = await rawRequest(proc.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}\r\n`);
  return parseResponses(data, { closed: true }).responses[0]!;
}

before(async () => {
  fs.mkdirSync(path.join(pub, 'docs'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'root'));
  fs.mkdirSync(path.join(dir, 'private'));
  fs.writeFileSync(path.join(pub, 'a.png'), 'png');
  fs.writeFileSync(path.join(pub, 'favicon.ico'), 'ico');
  fs.writeFileSync(path.join(pub, 'docs', 'index.html'), '<p>i</p>');
  fs.writeFileSync(path.join(dir, 'root', 'robots.txt'), 'robots');
  fs.writeFileSync(path.join(dir, 'private', 'report.txt'), 'report');
  fs.writeFileSync(path.join(dir, 'app.js'), `module.exports = (req) => req.PATH_INFO === '/dl'
    ? { headers: { 'X-Accel-Redirect': '/protected/report.txt' } }
    : { body: 'app ' + req.PATH_INFO };\n`);
  proc = await TsgiProcess.start(['--http', '127.0.0.1:0', '--static-map', `/static=${pub}`,
    '--static-map', `/favicon.ico=${path.join(pub, 'favicon.ico')}`, '--static-index', 'index.html',
    '--check-static', path.join(dir, 'root'), '--static-expires-type', 'image/=600',
    '--offload-root', `/protected=${path.join(dir, 'private')}`, path.join(dir, 'app.js')]);
});

after(async () => {
  await proc.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the flags reach the core', async () => {
  const png = await get('/static/a.png');
  assert.equal(png.status, 200);
  assert.equal(header(png, 'cache-control'), 'max-age=600');
  assert.equal((await get('/favicon.ico')).body.toString(), 'ico');
  assert.equal((await get('/static/docs/')).body.toString(), '<p>i</p>');
  assert.equal((await get('/robots.txt')).body.toString(), 'robots');
  assert.equal((await get('/other')).body.toString(), 'app /other');
  const dl = await get('/dl');
  assert.equal(dl.body.toString(), 'report');
  assert.equal(header(dl, 'x-accel-redirect'), undefined);
});

test('a --static-map without "=" or with a missing directory is refused, named', () => {
  const bad = runTsgi(['--http', '127.0.0.1:0', '--static-map', 'static', path.join(dir, 'app.js')]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--static-map needs PATH=DIR/);
  const missing = runTsgi(['--http', '127.0.0.1:0', '--static-map', `/s=${path.join(dir, 'none')}`, path.join(dir, 'app.js')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /--static-map \/s: .*none: No such file or directory/);
});
