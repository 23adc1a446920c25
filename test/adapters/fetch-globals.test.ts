// The light global Response of fromFetch(app, { overrideGlobalObjects: true })
// against undici's own: every member of every kind of Response made both
// ways gives the same values (or the same error), and the same handler sent
// through fromFetch gives the same bytes on the wire either way. The light
// path is checked to build no undici Response at all for what it records,
// by counting the constructions of the class it wraps. Off by default: the
// global stays as Node made it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { fromFetch, serve, type ServerHandle } from 'tsgi';
import { parseResponses, rawRequest, ROOT, captureLog } from '../helpers/index.js';

// Before tsgi's light class first looks at the global: it wraps a counting
// stand-in for undici's Response, so a test can tell when it built one.
const Undici = globalThis.Response;
const original = Object.getOwnPropertyDescriptor(globalThis, 'Response')!;
let built = 0;
const Counting: typeof Response = new Proxy(Undici, {
  construct(target, args, newTarget): object {
    built++;
    return Reflect.construct(target, args, newTarget === Counting ? target : newTarget) as object;
  },
});
Object.defineProperty(globalThis, 'Response', { value: Counting, writable: true, configurable: true });
interface Globals {
  lightResponseClass(): typeof Response;
  isLightResponse(x: unknown): boolean;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const globals = require(path.join(ROOT, 'dist/adapters/fetch-globals.js')) as Globals;
const Light = globals.lightResponseClass();
Object.defineProperty(globalThis, 'Response', original);
assert.equal(globalThis.Response, Undici);

type Make = (R: typeof Response) => Response;

const STREAM = (): ReadableStream<Uint8Array> => new ReadableStream({
  start(c) {
    c.enqueue(new TextEncoder().encode('str'));
    c.enqueue(new TextEncoder().encode('eam'));
    c.close();
  },
});

/** Each way of making a Response a handler may use; `light`: the light path records it (no undici Response). */
const CASES: Array<{ name: string; make: Make; light: boolean }> = [
  { name: 'a string', make: (R) => new R('hello'), light: true },
  { name: 'an empty string', make: (R) => new R(''), light: true },
  { name: 'null', make: (R) => new R(null), light: true },
  { name: 'no arguments', make: (R) => new R(), light: true },
  { name: 'undefined, and init', make: (R) => new R(undefined, { status: 202 }), light: true },
  { name: 'bytes', make: (R) => new R(new Uint8Array([104, 105, 0, 255])), light: true },
  { name: 'a Buffer', make: (R) => new R(Buffer.from('buffer body')), light: true },
  { name: 'a Buffer view into a larger one', make: (R) => new R(Buffer.from('xxinnerxx').subarray(2, 7)), light: true },
  { name: 'UTF-8 and a lone surrogate', make: (R) => new R('héllo ✓ \ud800 end'), light: true },
  { name: 'status and statusText', make: (R) => new R('made', { status: 201, statusText: 'Made It' }), light: true },
  { name: 'a 500', make: (R) => new R('down', { status: 599 }), light: true },
  { name: 'a 204 without a body', make: (R) => new R(null, { status: 204 }), light: true },
  { name: 'a 304 without a body', make: (R) => new R(undefined, { status: 304, headers: { ETag: '"x"' } }), light: true },
  {
    name: 'plain headers, mixed case, a Set-Cookie, a content-type',
    make: (R) => new R('{"a":1}', {
      headers: { 'X-Zed': 'last', 'Content-Type': 'application/json', 'Set-Cookie': 'a=1; Path=/', 'x-alpha': 'first', Empty: '' },
    }),
    light: true,
  },
  { name: 'a header with inner whitespace', make: (R) => new R('x', { headers: { 'x-a': 'one\t two' } }), light: true },
  { name: 'bytes with a content-type', make: (R) => new R(new Uint8Array([1]), { headers: { 'content-type': 'application/octet-stream' } }), light: true },
  { name: 'a null-prototype headers object', make: (R) => new R('n', { headers: Object.assign(Object.create(null) as object, { 'x-n': '1' }) }), light: true },
  // What the light path leaves to undici, and must match it in.
  { name: 'a ReadableStream', make: (R) => new R(STREAM()), light: false },
  { name: 'a Blob', make: (R) => new R(new Blob(['blob'], { type: 'x/blob' })), light: false },
  { name: 'an ArrayBuffer', make: (R) => new R(new Uint8Array([1, 2]).buffer), light: false },
  { name: 'a DataView', make: (R) => new R(new DataView(new Uint8Array([3, 4]).buffer)), light: false },
  { name: 'URLSearchParams', make: (R) => new R(new URLSearchParams('a=1&b=2')), light: false },
  { name: 'FormData', make: (R) => { const f = new FormData(); f.set('k', 'v'); return new R(f); }, light: false },
  { name: 'a Headers object with two Set-Cookie', make: (R) => {
    const h = new Headers({ 'x-h': '1' });
    h.append('set-cookie', 'a=1');
    h.append('set-cookie', 'b=2');
    return new R('hdrs', { headers: h });
  }, light: false },
  { name: 'headers as pairs, two Set-Cookie', make: (R) => new R('pairs', { headers: [['Set-Cookie', 'a=1'], ['set-cookie', 'b=2'], ['X-P', '1']] }), light: false },
  { name: 'one name in two cases', make: (R) => new R('dup', { headers: { 'X-A': '1', 'x-a': '2' } }), light: false },
  { name: 'a value to trim', make: (R) => new R('trim', { headers: { 'x-t': '  padded\t' } }), light: false },
  { name: 'a number as a value', make: (R) => new R('num', { headers: { 'x-n': 5 } as unknown as Record<string, string> }), light: false },
  { name: 'a string status', make: (R) => new R('s', { status: '201' as unknown as number }), light: false },
  { name: 'a fractional status', make: (R) => new R('s', { status: 201.7 }), light: false },
  { name: 'Response.json()', make: (R) => R.json({ a: [1, 'two'] }, { status: 202, headers: { 'x-j': '1' } }), light: false },
  { name: 'Response.redirect()', make: (R) => R.redirect('http://example.com/a b', 307), light: false },
  { name: 'Response.error()', make: (R) => R.error(), light: false },
  { name: 'init is a Response', make: (R) => new R('again', new R('first', { status: 203, headers: { 'x-r': '1' } })), light: false },
];

/** Constructions that must fail, and fail alike. */
const BAD: Array<{ name: string; make: Make }> = [
  { name: 'status 199', make: (R) => new R('x', { status: 199 }) },
  { name: 'status 600', make: (R) => new R('x', { status: 600 }) },
  { name: 'a body with 204', make: (R) => new R('x', { status: 204 }) },
  { name: 'an empty body with 205', make: (R) => new R('', { status: 205 }) },
  { name: 'bytes with 304', make: (R) => new R(new Uint8Array(0), { status: 304 }) },
  { name: 'a header name with a space', make: (R) => new R('x', { headers: { 'bad name': 'x' } }) },
  { name: 'a header value with CR LF', make: (R) => new R('x', { headers: { 'x-a': 'a\r\nb: c' } }) },
  { name: 'a header value above U+00FF', make: (R) => new R('x', { headers: { 'x-a': 'snow ☃' } }) },
  { name: 'a statusText with a newline', make: (R) => new R('x', { statusText: 'a\nb' }) },
  { name: 'a symbol header name', make: (R) => new R('x', { headers: { [Symbol('s')]: 'x' } as unknown as Record<string, string> }) },
  { name: 'init not an object', make: (R) => new R('x', 5 as unknown as ResponseInit) },
  { name: 'a locked stream', make: (R) => { const s = STREAM(); s.getReader(); return new R(s); } },
];

/** FormData's boundary is random: the same for both. */
function masked(s: string): string {
  return s.replace(/formdata-undici-\d+/g, 'formdata-undici-N');
}

async function describeResponse(res: Response): Promise<Record<string, unknown>> {
  const clone = res.type === 'error' ? undefined : res.clone();
  return {
    ok: res.ok,
    status: res.status,
    statusText: res.statusText,
    headers: [...res.headers].map(([n, v]) => [n, masked(v)]),
    cookies: res.headers.getSetCookie(),
    type: res.type,
    url: res.url,
    redirected: res.redirected,
    hasBody: res.body !== null,
    usedBefore: res.bodyUsed,
    bytes: masked(Buffer.from(await res.arrayBuffer()).toString('latin1')),
    usedAfter: res.bodyUsed,
    again: await res.text().then(() => 'read', (e: Error) => `${e.constructor.name}: ${e.message}`),
    cloneText: clone === undefined ? undefined : masked(await clone.text()),
    tag: Object.prototype.toString.call(res),
  };
}

function failure(make: () => unknown): string | undefined {
  try {
    make();
    return undefined;
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}

for (const c of CASES) {
  test(`light Response as undici's: ${c.name}`, async () => {
    const before = built;
    const light = c.make(Light);
    if (c.light) assert.equal(built, before, 'the light path built no undici Response');
    assert.ok(light instanceof Undici, 'instanceof the original class');
    assert.ok(light instanceof Light);
    assert.deepEqual(await describeResponse(light), await describeResponse(c.make(Undici)));
  });
}

for (const c of BAD) {
  test(`light Response fails as undici's: ${c.name}`, () => {
    const want = failure(() => c.make(Undici));
    assert.ok(want !== undefined, 'undici refuses it');
    assert.equal(failure(() => c.make(Light)), want);
  });
}

test('the light Response: status, statusText and ok without undici; the rest through it, once', async () => {
  const before = built;
  const r = new Light('abc', { status: 203, statusText: 'Fine', headers: { 'x-a': '1' } });
  assert.deepEqual([r.status, r.statusText, r.ok], [203, 'Fine', true]);
  assert.equal(r.constructor, Light);
  assert.equal(built, before);
  assert.equal(r.headers.get('x-a'), '1');
  assert.equal(built, before + 1, 'headers built it');
  r.headers.set('x-b', '2');
  assert.equal(r.headers.get('x-b'), '2', 'the headers are the real ones, kept');
  assert.equal(await r.text(), 'abc');
  assert.equal(built, before + 1, 'built once');
  assert.equal(r.bodyUsed, true);
  assert.match(inspect(new Light('i')), /status: 200/);
});

test('copies bytes at construction, as undici does', async () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const light = new Light(bytes);
  const real = new Undici(bytes);
  bytes[0] = 9;
  assert.deepEqual([...new Uint8Array(await light.arrayBuffer())], [1, 2, 3]);
  assert.deepEqual([...new Uint8Array(await real.arrayBuffer())], [1, 2, 3]);
  // And reads a plain headers object once, at construction.
  const h: Record<string, string> = { 'x-a': '1' };
  const l2 = new Light('x', { headers: h });
  h['x-a'] = '2';
  assert.equal(l2.headers.get('x-a'), '1');
});

test('a subclass of the light Response keeps its own methods and the light path', async () => {
  class Mine extends Light {
    greet(): string { return `status ${this.status}`; }
  }
  const before = built;
  const m = new Mine('sub', { status: 202 });
  assert.equal(m.greet(), 'status 202');
  assert.equal(built, before);
  assert.ok(m instanceof Mine && m instanceof Light && m instanceof Undici);
  assert.equal(await m.text(), 'sub');
  assert.equal(new Light('x') instanceof Mine, false);
});

test('instanceof the light class holds for undici Responses (fetch() results), not for others', async () => {
  const server = serve(() => ({ status: 200, headers: [['content-type', 'text/plain']], body: 'from fetch' }), { listen: '127.0.0.1:0', log: () => {} });
  try {
    const res = await fetch(`http://127.0.0.1:${server.addresses[0]!.port!}/`);
    assert.ok(res instanceof Light);
    assert.equal(await res.text(), 'from fetch');
    assert.equal(({ status: 200 } as object) instanceof Light, false);
    assert.equal(Object.create(Undici.prototype) instanceof Light, true, 'as for the original');
    assert.equal((null as unknown as object) instanceof Light, false);
  } finally {
    await server.close();
  }
});

// ---- on the wire -------------------------------------------------------------

// The same handlers, once with undici's class and once with the light one,
// through fromFetch: the bytes sent must be the same (the Date field aside).
const cached = { real: new Undici('served once'), light: undefined as Response | undefined };

function wireHandler(R: typeof Response, which: 'real' | 'light'): (request: Request) => Promise<Response> {
  return async (request: Request): Promise<Response> => {
    const name = decodeURIComponent(new URL(request.url).pathname.slice(1));
    const c = CASES.find((x) => x.name === name);
    if (c !== undefined) return c.make(R);
    const b = BAD.find((x) => x.name === name);
    if (b !== undefined) return b.make(R);
    switch (name) {
      case 'headers touched': {
        const r = new R('touched', { headers: { 'x-a': '1' } });
        r.headers.set('x-late', 'yes');
        r.headers.append('set-cookie', 'late=1');
        return r;
      }
      case 'read by a clone': {
        const r = new R('cloned');
        await r.clone().text();
        return r;
      }
      case 'read already':
      {
        const r = new R('read');
        await r.text();
        return r;
      }
      case 'the same Response twice':
        if (which === 'light') return cached.light ??= new R('served once');
        return cached.real;
      case 'not a Response':
        return { status: 200 } as unknown as Response;
      default:
        return new R('no such case', { status: 404 });
    }
  };
}

const servers: ServerHandle[] = [];
const logs = captureLog();
after(async () => {
  await Promise.all(servers.map((s) => s.close(2000)));
});

function start(handler: (request: Request) => Promise<Response>, options?: { overrideGlobalObjects: boolean }): { port: number; app: ReturnType<typeof fromFetch> } {
  const app = fromFetch(handler, options);
  const s = serve(app, { listen: '127.0.0.1:0', log: logs.log });
  servers.push(s);
  return { port: s.addresses[0]!.port!, app };
}

async function wire(port: number, method: string, name: string, target = `/${encodeURIComponent(name)}`): Promise<string> {
  const head = `${method} ${target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`;
  const r = await rawRequest(port, head);
  // One whole reply, checked by the strict parser; then the bytes, Date masked.
  assert.equal(parseResponses(r.data, { closed: r.closed, head: method === 'HEAD' }).responses.length, 1, r.data.toString('latin1'));
  return masked(r.data.toString('latin1').replace(/^date: .*$/im, 'date: (masked)'));
}

test('on the wire: every case sends the same bytes with the light Response as with undici\'s', async () => {
  assert.equal(globalThis.Response, Undici, 'untouched before');
  const real = start(wireHandler(Undici, 'real'));
  assert.equal(globalThis.Response, Undici, 'fromFetch without the option leaves the global alone');
  const light = start(wireHandler(Light, 'light'), { overrideGlobalObjects: true });
  assert.equal(globalThis.Response, Light, 'the option installs the light class');
  const names = [...CASES.map((c) => c.name), ...BAD.map((c) => c.name), 'headers touched', 'read by a clone', 'read already',
    'not a Response', 'the same Response twice', 'the same Response twice'];
  let lightSent = 0;
  for (const name of names) {
    for (const method of ['GET', 'HEAD']) {
      const before = built;
      const want = await wire(real.port, method, name);
      const got = await wire(light.port, method, name);
      assert.equal(got, want, `${method} ${name}`);
      const c = CASES.find((x) => x.name === name);
      if (c?.light === true) {
        assert.equal(built, before, `${method} ${name}: sent without an undici Response`);
        lightSent++;
      }
    }
  }
  assert.equal(lightSent, 2 * CASES.filter((c) => c.light).length);
  // The twice-served cached Response: the second time its body is used, a 500 both ways.
  assert.match(await wire(real.port, 'GET', 'the same Response twice'), /^HTTP\/1\.1 500 /);
  light.app.shutdown!();
  real.app.shutdown?.();
  assert.equal(globalThis.Response, Undici, 'shutdown() gave the global back');
  assert.deepEqual(Object.getOwnPropertyDescriptor(globalThis, 'Response'), original, 'as Node defined it');
});

test('overrideGlobalObjects: counted per app; restored when the last is shut down, not over a later replacement', () => {
  assert.equal(globalThis.Response, Undici);
  const a = fromFetch(() => new Response('a'), { overrideGlobalObjects: true });
  const b = fromFetch(() => new Response('b'), { overrideGlobalObjects: true });
  assert.equal(globalThis.Response, Light);
  a.shutdown!();
  a.shutdown!();  // once only
  assert.equal(globalThis.Response, Light, 'b still holds it');
  b.shutdown!();
  assert.deepEqual(Object.getOwnPropertyDescriptor(globalThis, 'Response'), original);
  assert.equal(fromFetch(() => new Response('c'), { overrideGlobalObjects: false }).shutdown, undefined);
  assert.equal(fromFetch(() => new Response('d')).shutdown, undefined);
  assert.equal(globalThis.Response, Undici);

  const c = fromFetch(() => new Response('c'), { overrideGlobalObjects: true });
  class Theirs {}
  Object.defineProperty(globalThis, 'Response', { value: Theirs, writable: true, configurable: true });
  c.shutdown!();
  assert.equal(globalThis.Response, Theirs as unknown, 'someone else\'s replacement is left alone');
  Object.defineProperty(globalThis, 'Response', original);
  assert.throws(() => fromFetch(() => new Response('x'), { overrideGlobalObjects: 'yes' as unknown as boolean }),
    /overrideGlobalObjects must be true or false/);
});

test('Response statics under the override are undici\'s, and so are their results', () => {
  const app = fromFetch(() => new Response('s'), { overrideGlobalObjects: true });
  try {
    const j = Response.json({ a: 1 });
    assert.equal(j.constructor, Undici);
    assert.ok(j instanceof Response);
    assert.equal(Response.redirect('http://x/', 301).status, 301);
    assert.equal(Response.error().type, 'error');
    assert.equal(globals.isLightResponse(new Response('x')), true);
    assert.equal(globals.isLightResponse(j), false);
  } finally {
    app.shutdown!();
  }
});

test('a Hono app under the override: c.text, c.json and c.body build no undici Response; the others do', async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hono = require('./fixtures/hono-routes.js') as Parameters<typeof fromFetch>[0];
  const { port, app } = start(hono as (request: Request) => Promise<Response>, { overrideGlobalObjects: true });
  try {
    for (const [route, light] of [['/', true], ['/json', true], ['/users/7?q=1', true], ['/html', true], ['/bytes', true],
      ['/empty', true], ['/raw', true], ['/nowhere', true], ['/header', false], ['/raw-stream', false], ['/mw/x', false]] as const) {
      const before = built;
      const r = await wire(port, 'GET', route, route);
      assert.match(r, /^HTTP\/1\.1 [2-4]\d\d /, route);
      if (light) assert.equal(built, before, `${route} sent without an undici Response`);
      else assert.ok(built > before, `${route} needed undici's Response`);
    }
  } finally {
    app.shutdown!();
  }
});
