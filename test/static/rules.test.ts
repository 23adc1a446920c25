// The pure rules of static file serving (native/static/rules.h), one case per
// RFC rule: paths (RFC 3986 5.2.4 and our refusals), preconditions in RFC
// 9110 13.2.2's order, If-Range (13.1.5), Range (14.1-14.2), HTTP-date
// (5.6.7) and Accept-Encoding (12.5.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/index.js';
import { hooks } from '../helpers/testing-addon.js';

const clean = (p: string | Buffer, decode = true) => hooks.staticCleanPath(p, decode);

test('paths: slashes merged, "." dropped, ".." resolved inside the root', () => {
  assert.deepEqual(clean('/'), { path: '/', trailingSlash: true, hidden: false });
  assert.deepEqual(clean('/a//b/./c'), { path: '/a/b/c', trailingSlash: false, hidden: false });
  assert.deepEqual(clean('/a/b/../c'), { path: '/a/c', trailingSlash: false, hidden: false });
  assert.deepEqual(clean('/a/b/..'), { path: '/a', trailingSlash: true, hidden: false });
  assert.deepEqual(clean('/a/'), { path: '/a', trailingSlash: true, hidden: false });
  assert.deepEqual(clean('/a/.'), { path: '/a', trailingSlash: true, hidden: false });
  assert.deepEqual(clean('/a/..'), { path: '/', trailingSlash: true, hidden: false });
  assert.deepEqual(clean('/.git/../x'), { path: '/x', trailingSlash: false, hidden: false });
  assert.deepEqual(clean('/a/.env'), { path: '/a/.env', trailingSlash: false, hidden: true });
  assert.deepEqual(clean('/.well-known/x'), { path: '/.well-known/x', trailingSlash: false, hidden: true });
  assert.deepEqual(clean('/a/...'), { path: '/a/...', trailingSlash: false, hidden: true });
});

test('paths: decoded once, so double encodings stay names', () => {
  assert.deepEqual(clean('/a%20b'), { path: '/a b', trailingSlash: false, hidden: false });
  assert.deepEqual(clean('/a/%2e%2e/b'), { path: '/b', trailingSlash: false, hidden: false });
  assert.deepEqual(clean('/a%2f..%2fb'), { path: '/b', trailingSlash: false, hidden: false });
  assert.deepEqual(clean('/%252e%252e/x'), { path: '/%2e%2e/x', trailingSlash: false, hidden: false });
  // A CGI PATH_INFO is decoded already: not again.
  assert.deepEqual(clean('/a%2e%2e', false), { path: '/a%2e%2e', trailingSlash: false, hidden: false });
  // Overlong UTF-8 for '.' is two bytes that name no dot: no traversal.
  const overlong = clean('/%c0%ae%c0%ae/etc/passwd');
  assert.equal(overlong.error, undefined);
  assert.equal((overlong as { path: string }).path, '/\xc0\xae\xc0\xae/etc/passwd');
});

test('paths: refusals', () => {
  const refused: Array<[string | Buffer, boolean, RegExp]> = [
    ['', true, /start with/],
    ['a/b', true, /start with/],
    ['/..', true, /leaves the root/],
    ['/../etc/passwd', true, /leaves the root/],
    ['/a/../../etc/passwd', true, /leaves the root/],
    ['/%2e%2e/etc/passwd', true, /leaves the root/],
    ['/%2E%2E%2fetc%2fpasswd', true, /leaves the root/],
    ['/a/%2e%2e/%2e%2e/b', true, /leaves the root/],
    ['/..%2f..%2fetc', true, /leaves the root/],
    ['/a%00.txt', true, /NUL/],
    [Buffer.from('/a\0b'), false, /NUL/],
    ['/a%zz', true, /escape/],
    ['/a%2', true, /escape/],
    ['/a%', true, /escape/],
    ['/..\\..\\etc\\passwd', true, /backslash/],
    ['/a%5c..%5cb', true, /backslash/],
    ['/../x', false, /leaves the root/],
  ];
  for (const [p, decode, why] of refused) {
    const r = clean(p, decode);
    assert.match(r.error ?? 'accepted', why, `${JSON.stringify(p.toString())}`);
  }
});

const ETAG = '"1a-400-5f5e100"';
const MTIME = 1_700_000_000;  // Tue, 14 Nov 2023 22:13:20 GMT
const date = (t: number) => hooks.staticFormatDate(t);

test('HTTP-date: the three forms read, IMF-fixdate written (RFC 9110 5.6.7)', () => {
  assert.equal(date(MTIME), 'Tue, 14 Nov 2023 22:13:20 GMT');
  assert.equal(date(0), 'Thu, 01 Jan 1970 00:00:00 GMT');
  assert.equal(date(951782400), 'Tue, 29 Feb 2000 00:00:00 GMT');
  assert.equal(hooks.staticParseDate('Sun, 06 Nov 1994 08:49:37 GMT'), 784111777);
  assert.equal(hooks.staticParseDate('Sunday, 06-Nov-94 08:49:37 GMT'), 784111777);
  assert.equal(hooks.staticParseDate('Sun Nov  6 08:49:37 1994'), 784111777);
  assert.equal(hooks.staticParseDate('Tue, 14 Nov 2023 22:13:20 GMT'), MTIME);
  for (const bad of ['', 'yesterday', 'Sun, 06 Nov 1994 08:49:37', 'Sun, 31 Feb 1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 24:00:00 GMT', 'Sun, 06 Nov 1994 08:49:37 GMT ', 'Sun, 6 Nov 1994 08:49:37 GMT',
    'Sun, 06 Foo 1994 08:49:37 GMT']) {
    assert.equal(hooks.staticParseDate(bad), null, bad);
  }
  for (let t = -86400 * 400; t < 4e9; t += 86400 * 37 + 3671) assert.equal(hooks.staticParseDate(date(t)), t);
});

test('entity tags: inode, size and mtime, strong', () => {
  assert.equal(hooks.staticEtag(0x1a, 1024, 100_000_000), ETAG);
  assert.equal(hooks.staticEtag(2n ** 64n - 1n, 0, 0), '"ffffffffffffffff-0-0"');
});

const pre = (f: Parameters<typeof hooks.staticPreconditions>[0]) => hooks.staticPreconditions(f, ETAG, MTIME);

test('preconditions, RFC 9110 13.2.2 step by step', () => {
  assert.equal(pre({}), 0);
  // Step 1: If-Match, strong comparison (13.1.1).
  assert.equal(pre({ ifMatch: ETAG }), 0);
  assert.equal(pre({ ifMatch: `"x", ${ETAG}` }), 0);
  assert.equal(pre({ ifMatch: '*' }), 0);
  assert.equal(pre({ ifMatch: '"x"' }), 412);
  assert.equal(pre({ ifMatch: `W/${ETAG}` }), 412, 'a weak tag never matches strongly');
  // Step 2: If-Unmodified-Since only without If-Match (13.1.4).
  assert.equal(pre({ ifUnmodifiedSince: date(MTIME) }), 0);
  assert.equal(pre({ ifUnmodifiedSince: date(MTIME - 1) }), 412);
  assert.equal(pre({ ifUnmodifiedSince: 'garbage' }), 0, 'an invalid date is ignored');
  assert.equal(pre({ ifMatch: ETAG, ifUnmodifiedSince: date(MTIME - 1) }), 0, 'If-Match wins');
  // Step 3: If-None-Match, weak comparison (13.1.2): 304 for GET and HEAD.
  assert.equal(pre({ ifNoneMatch: ETAG }), 304);
  assert.equal(pre({ ifNoneMatch: `W/${ETAG}` }), 304);
  assert.equal(pre({ ifNoneMatch: '*' }), 304);
  assert.equal(pre({ ifNoneMatch: '"a", "b"' }), 0);
  assert.equal(pre({ ifNoneMatch: ` "a" ,, ${ETAG} ` }), 304);
  // Step 4: If-Modified-Since only without If-None-Match (13.1.3).
  assert.equal(pre({ ifModifiedSince: date(MTIME) }), 304);
  assert.equal(pre({ ifModifiedSince: date(MTIME + 60) }), 304);
  assert.equal(pre({ ifModifiedSince: date(MTIME - 1) }), 0);
  assert.equal(pre({ ifModifiedSince: 'not a date' }), 0);
  assert.equal(pre({ ifNoneMatch: '"other"', ifModifiedSince: date(MTIME) }), 0, 'If-None-Match wins');
  // Order: a failed If-Match is 412 even when If-None-Match would say 304.
  assert.equal(pre({ ifMatch: '"x"', ifNoneMatch: ETAG }), 412);
  assert.equal(pre({ ifUnmodifiedSince: date(MTIME - 1), ifModifiedSince: date(MTIME) }), 412);
});

test('If-Range: the strong tag or the exact date (RFC 9110 13.1.5)', () => {
  assert.equal(hooks.staticIfRange(ETAG, ETAG, MTIME), true);
  assert.equal(hooks.staticIfRange(`W/${ETAG}`, ETAG, MTIME), false);
  assert.equal(hooks.staticIfRange('"old"', ETAG, MTIME), false);
  assert.equal(hooks.staticIfRange(date(MTIME), ETAG, MTIME), true);
  assert.equal(hooks.staticIfRange(date(MTIME + 1), ETAG, MTIME), false);
  assert.equal(hooks.staticIfRange('garbage', ETAG, MTIME), false);
});

test('Range: single, suffix, open, clipped (RFC 9110 14.1.1)', () => {
  const r = (v: string, size: number | bigint = 1000) => hooks.staticRange(v, size);
  assert.deepEqual(r('bytes=0-499'), [[0, 499]]);
  assert.deepEqual(r('bytes=500-'), [[500, 999]]);
  assert.deepEqual(r('bytes=-200'), [[800, 999]]);
  assert.deepEqual(r('bytes=-2000'), [[0, 999]]);
  assert.deepEqual(r('bytes=900-5000'), [[900, 999]]);
  assert.deepEqual(r('BYTES=0-0'), [[0, 0]], 'the unit is case-insensitive');
  assert.deepEqual(r('bytes=999-99999999999999999999999'), [[999, 999]], 'a huge last-pos is clipped');
  assert.deepEqual(r('bytes=0-99,200-299'), [[0, 99], [200, 299]]);
  assert.deepEqual(r('bytes=200-299, 0-99'), [[200, 299], [0, 99]], 'kept in the order asked');
  assert.deepEqual(r('bytes=0-99,50-149'), [[0, 149]], 'overlaps are merged');
  assert.deepEqual(r('bytes=100-199,0-99'), [[0, 199]], 'adjacent ones too');
  assert.deepEqual(r('bytes=0-9,2000-3000'), [[0, 9]], 'only the satisfiable ones');
  assert.deepEqual(r('bytes= 0-9 ,, 20-29'), [[0, 9], [20, 29]], 'empty list elements and OWS');
  const big = 3n * 2n ** 30n;
  const n = Number(big);
  assert.deepEqual(r('bytes=-10', big), [[n - 10, n - 1]]);
  assert.deepEqual(r(`bytes=${big - 1n}-`, big), [[n - 1, n - 1]]);
  const huge = 2n ** 60n;
  assert.deepEqual(r('bytes=-1', huge), [[huge - 1n, huge - 1n]], 'past 2^53: BigInts');
});

test('Range: unsatisfiable (416) and ignored (200)', () => {
  const r = (v: string, size = 1000) => hooks.staticRange(v, size);
  assert.equal(r('bytes=1000-'), 'unsatisfiable');
  assert.equal(r('bytes=5000-6000'), 'unsatisfiable');
  assert.equal(r('bytes=-0'), 'unsatisfiable');
  assert.equal(r('bytes=0-', 0), 'unsatisfiable', 'nothing lies in an empty file');
  assert.equal(r('bytes=-5', 0), 'unsatisfiable');
  for (const v of ['', 'bytes', 'bytes=', 'bytes=,', 'items=0-1', 'bytes=a-b', 'bytes=5-1', 'bytes=0-1;x',
    'bytes=0-1 2', 'bytes=--1', 'bytes 0-1', 'bytes=1']) {
    assert.equal(r(v), 'ignore', v);
  }
  const many = 'bytes=' + Array.from({ length: 17 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',');
  assert.equal(r(many), 'ignore', 'more than 16 ranges: the whole file');
  const sixteen = 'bytes=' + Array.from({ length: 16 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',');
  assert.equal((r(sixteen) as unknown[]).length, 16);
});

test('Accept-Encoding: q-values choose among the siblings there are (RFC 9110 12.5.3)', () => {
  const GZ = 2, BR = 4;
  const c = (v: string | null, av = GZ | BR) => hooks.staticCoding(v, av);
  assert.equal(c(null), 'identity', 'no field: identity');
  assert.equal(c(''), 'identity');
  assert.equal(c('gzip, deflate, br'), 'br', 'a tie goes to brotli');
  assert.equal(c('gzip, deflate, br', GZ), 'gzip', 'only the files there are');
  assert.equal(c('gzip, deflate, br', 0), 'identity');
  assert.equal(c('br;q=0.5, gzip;q=0.8'), 'gzip');
  assert.equal(c('br;q=0, gzip'), 'gzip');
  assert.equal(c('GZIP'), 'gzip', 'names are case-insensitive');
  assert.equal(c('x-gzip'), 'gzip');
  assert.equal(c('*'), 'br');
  assert.equal(c('*;q=0.5, br;q=0'), 'gzip');
  assert.equal(c('identity;q=1, gzip;q=0.5'), 'identity');
  assert.equal(c('gzip;q=0.5'), 'gzip', 'unlisted identity ranks below a named coding');
  assert.equal(c('gzip ; q=0.5 , br ; Q=0.4'), 'gzip');
  assert.equal(c('br;q=2, gzip'), 'gzip', 'an invalid q-value states nothing');
  assert.equal(c('br;q=0.0001, gzip;q=0.1'), 'gzip');
  assert.equal(c('deflate'), 'identity');
});

// The seed corpus and any regressions of test/fuzz/static_fuzz.cc, replayed
// without clang through every rule: none may throw, and a cleaned path
// cleans to itself.
test('static fuzz corpus and regressions replay', () => {
  const dirs = ['corpus', 'regressions'].map((f) => join(ROOT, 'test', 'fuzz', f, 'static'));
  const files = dirs.flatMap((d) => existsSync(d) ? readdirSync(d).filter((f) => !f.startsWith('.')).map((f) => join(d, f)) : []);
  assert.ok(files.length >= 5);
  for (const file of files) {
    const buf = readFileSync(file);
    const text = buf.toString('latin1');
    for (const decode of [true, false]) {
      const r = hooks.staticCleanPath(buf, decode);
      if (r.error === undefined) assert.equal((hooks.staticCleanPath(Buffer.from(r.path, 'latin1'), false) as { path: string }).path, r.path);
    }
    for (const size of [0, 1000, 3 * 2 ** 30]) hooks.staticRange(text, size);
    for (let av = 0; av < 8; av += 2) hooks.staticCoding(text, av);
    const t = hooks.staticParseDate(text);
    if (t !== null) assert.equal(hooks.staticParseDate(hooks.staticFormatDate(t)), t);
    hooks.staticPreconditions({ ifMatch: text, ifNoneMatch: text, ifModifiedSince: text, ifUnmodifiedSince: text }, ETAG, MTIME);
    hooks.staticIfRange(text, ETAG, MTIME);
  }
});
