// The examples docs/tsgi.md shows are code that runs: the middleware of
// section 1 (compiled from the document and applied to a reply of each
// header form) and the lifecycle module of section 1.1, which is
// examples/lifecycle/hooks.mjs (test/lifecycle/ serves it); and the help
// text's pointers at docs/ are true about where those files are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { serve, type App, type Reply, type Request } from 'tsgi';
import { ROOT } from '../helpers/index.js';
import { runTsgi } from '../helpers/tsgi-process.js';

const DOC = fs.readFileSync(path.join(ROOT, 'docs', 'tsgi.md'), 'utf8');

function block(lang: string, contains: string): string {
  const found = [...DOC.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!).find((b) => b.includes(contains));
  assert.ok(found !== undefined, `docs/tsgi.md has a ${lang} block with ${contains}`);
  return found;
}

test('the timing middleware of docs/tsgi.md section 1 compiles and adds its header to either header form', async () => {
  const source = block('ts', 'const timing') + '\nmodule.exports = timing;\n';
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
  const mod = { exports: undefined as unknown };
  new Function('module', 'exports', js.outputText)(mod, {});
  const timing = mod.exports as (next: App) => App;
  for (const headers of [{ 'content-type': 'text/plain' }, [['content-type', 'text/plain']] as Array<[string, string]>]) {
    const app = timing(() => ({ status: 200, headers, body: 'ok' }));
    const reply = await app({} as Request) as Exclude<Reply, string>;
    const pairs = reply.headers as Array<[string, string]>;
    assert.deepEqual(pairs[0], ['content-type', 'text/plain']);
    assert.equal(pairs[1]![0], 'server-timing');
    assert.match(pairs[1]![1], /^app;dur=\d/);
    assert.equal(reply.body, 'ok');
  }
});

test('the read(into) example of docs/tsgi.md section 2.4 hashes uploads read at once, reusing its Buffers', async () => {
  const source = block('ts', 'const sha256') + '\nmodule.exports = sha256;\n';
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
  const mod = { exports: undefined as unknown };
  new Function('module', 'exports', 'require', js.outputText)(mod, {}, createRequire(__filename));
  const server = serve(mod.exports as App, { listen: '127.0.0.1:0', log: () => {} });
  try {
    const port = server.addresses[0]!.port!;
    const bodies = Array.from({ length: 8 }, (_, i) => randomBytes(100_000 + i * 77_777));
    // Twice over, eight at once: the second round reads into the first round's Buffers.
    for (let round = 0; round < 2; round++) {
      const got = await Promise.all(bodies.map(async (b) => (await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: b })).text()));
      assert.deepEqual(got, bodies.map((b) => createHash('sha256').update(b).digest('hex') + '\n'));
    }
  } finally {
    await server.close(2000);
  }
});

test('the lifecycle example of docs/tsgi.md section 1.1 is examples/lifecycle/hooks.mjs', () => {
  const file = fs.readFileSync(path.join(ROOT, 'examples', 'lifecycle', 'hooks.mjs'), 'utf8');
  const code = file.split('\n').filter((l) => !l.startsWith('//')).join('\n').trim();
  assert.equal(block('js', 'export async function startup').trim(), code);
});

test('tsgi --help names docs/ files that exist, and says the package does not ship them', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
  const help = runTsgi(['--help']).stdout;
  const named = [...help.matchAll(/docs\/[a-z-]+\.md/g)].map((m) => m[0]);
  assert.ok(named.includes('docs/config.md'));
  for (const f of named) assert.ok(fs.existsSync(path.join(ROOT, f)), `tsgi --help names ${f}`);
  if (!pkg.files.includes('docs/')) assert.match(help, /the npm package ships README\.md, not docs\//);
});
