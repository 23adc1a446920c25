// The SCGI framer against its fixtures (test/fixtures/scgi/*.json, format in
// test/helpers/cgi-fixtures.ts), and the fuzz corpus and regressions replayed
// so they stay fixed without clang.
//
// The hook comes from tsgi_testing.node (native/napi/cgi_binding.cc), which only tests load.
// parseScgi() itself feeds every prefix of its input and throws if the first
// answer that is not 'again' differs from the whole buffer's, so each fixture
// here is also checked split at every offset.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { binding } from 'tsgi/native';
import { hooks } from '../helpers/testing-addon.js';
import { checkResult, fuzzFiles, inputOf, loadCgiFixtures } from '../helpers/cgi-fixtures.js';

// The framer's own list (TSGI_SCGI_ERRORS in framer.h), as the addon exports it.
const ERRORS = Object.keys(binding.errors.scgi);

describe('SCGI framer fixtures', () => {
  const fixtures = loadCgiFixtures('scgi');

  test('there are fixtures, their names are unique and every error is covered', () => {
    assert.ok(fixtures.length >= 25);
    assert.equal(new Set(fixtures.map((f) => f.name)).size, fixtures.length);
    const seen = new Set(fixtures.map((f) => f.expect.error ?? f.expect.result));
    assert.ok(ERRORS.length >= 8 && ERRORS.includes('kLooksLikeHttp'), 'binding.errors.scgi');
    for (const e of [...ERRORS, 'ok', 'again']) assert.ok(seen.has(e), `no fixture for ${e}`);
  });

  for (const fx of fixtures) {
    test(fx.name, () => {
      const buf = inputOf(fx);
      const got = hooks.parseScgi(buf, fx.limits?.maxBlock, fx.limits?.maxVars);
      checkResult(got, fx.expect);
      if (got.result === 'error') assert.equal(got.message, binding.errors.scgi[got.error!], 'text from the list');
      if (got.result === 'ok') {
        // The body is never read: more bytes after the ',' change nothing.
        assert.deepEqual(hooks.parseScgi(Buffer.concat([buf, Buffer.from('\0GET body')]),
          fx.limits?.maxBlock, fx.limits?.maxVars), got);
        assert.equal(hooks.parseScgi(buf.subarray(0, got.headLen! - 1), fx.limits?.maxBlock,
          fx.limits?.maxVars).result, 'again');
        assert.equal(got.vars?.[0]?.[0], 'CONTENT_LENGTH');
      }
    });
  }
});

// The same work as test/fuzz/scgi_fuzz.cc, minus the sanitizers and the
// byte-level invariants: parseScgi throws if any split disagrees.
for (const folder of ['regressions', 'corpus'] as const) {
  describe(`SCGI fuzz ${folder}`, () => {
    const files = fuzzFiles(folder, 'scgi');
    if (folder === 'corpus') {
      test('the seed corpus is not empty', () => assert.ok(files.length >= 10));
    }
    for (const file of files) {
      test(basename(file), () => {
        const buf = readFileSync(file);
        const got = hooks.parseScgi(buf);
        hooks.parseScgi(buf, 64, 4);
        hooks.parseScgi(buf, buf.length >> 1, 3);
        // Requests captured from nginx 1.22 with the stock scgi_params, among
        // them repeated HTTP_* names, which we keep (docs/protocols.md).
        const name = basename(file);
        if (name.startsWith('nginx-')) assert.equal(got.result, 'ok', got.error);
      });
    }
  });
}
