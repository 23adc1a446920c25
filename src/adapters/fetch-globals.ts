// The opt-in light Response (`fromFetch(app, { overrideGlobalObjects: true })`,
// `--fetch-override-globals`): while installed, the global `Response` is a
// class of ours that records the common case and builds undici's Response
// only when something needs it.
//
// Why: on Node 20 most of a small fetch handler's cost is undici's
// Response constructor (a ReadableStream per body, each a transferable C++
// object, and the GC work to free it), and the adapter then reads that
// stream back. `new Response('Hello')` with plain data needs none of it: the
// status, the header fields and the string or bytes are all the server
// sends. So the constructor keeps exactly those when they are plain and
// already in the form undici would normalise them to, and the adapter sends
// them as they are (`lightReply`). Everything else is undici's own:
//
// - a body or init the light path does not take (a ReadableStream, a Blob,
//   FormData, a Headers object, headers needing normalisation or invalid, a
//   status out of range, a body with 204/205/304) builds the real Response
//   right in the constructor, so it throws what undici throws, when it does;
// - any member but `status`, `statusText` and `ok` (`headers`, `body`,
//   `clone()`, `text()`, …) builds the real Response from the record on first
//   use, and from then on the object is a thin front for it.
//
// `instanceof Response` holds for ours and for undici's (a Response from
// fetch()), and ours are `instanceof` the original class too. The statics
// (`Response.json()`, `.redirect()`, `.error()`) are undici's, unchanged.
// The global is a process-wide change; see docs/adapters.md.

/** What the light path keeps of `new Response(body, init)`. */
interface Recorded {
  status: number;
  statusText: string;
  /** The header fields as given (names as spelled), for building the real one; each name once. */
  fields: Array<[string, string]>;
  /** A copy, as undici makes at construction. */
  body: string | Uint8Array | null;
  /** The adapter sent it: the body is used, as a real Response's would be. */
  sent: boolean;
}

const RECORDED = Symbol('tsgi.recordedResponse');
const REAL = Symbol('tsgi.realResponse');

interface Light {
  [RECORDED]: Recorded | undefined;
  [REAL]: Response | undefined;
}

// RFC 9110 section 5.6.2 token; a field value with nothing undici's Headers
// would trim (leading or trailing whitespace) or refuse (CR, LF, NUL, other
// controls, code points above 0xFF); a reason phrase (RFC 9112 section 4).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PLAIN_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;
const TEXT_PLAIN = 'text/plain;charset=UTF-8';

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `init.headers` as fields when every one is already as undici would store
 * it (a token name, given once whatever its case; a string value needing no
 * trimming); otherwise undefined. `missing`: none given.
 */
function plainFields(h: unknown): Array<[string, string]> | undefined | 'missing' {
  if (h === undefined) return 'missing';
  // undici reads symbol keys too (and refuses them): leave those to it.
  if (!isPlainObject(h) || Object.getOwnPropertySymbols(h).length > 0) return undefined;
  const fields: Array<[string, string]> = [];
  for (const name in h) {
    const value = h[name];
    if (typeof value !== 'string' || !TOKEN.test(name) || !PLAIN_VALUE.test(value)) return undefined;
    const lower = name.toLowerCase();
    // "X-A" and "x-a" in one object are combined by undici: leave that to it.
    for (const [n] of fields) if (n.toLowerCase() === lower) return undefined;
    fields.push([name, value]);
  }
  return fields;
}

/** The record of `new Response(body, init)` when the light path takes it, else undefined. */
function record(body: unknown, init: unknown): Recorded | undefined {
  let copy: string | Uint8Array | null;
  if (body === null || body === undefined) copy = null;
  else if (typeof body === 'string') copy = body;
  else if (body instanceof Uint8Array) copy = new Uint8Array(body);
  else return undefined;
  let status = 200;
  let statusText = '';
  let fields: Array<[string, string]> = [];
  if (init !== undefined) {
    if (!isPlainObject(init)) return undefined;
    const h = plainFields(init.headers);
    if (h === undefined) return undefined;
    if (h !== 'missing') fields = h;
    const s = init.status;
    if (s !== undefined) {
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 200 || s > 599) return undefined;
      // A null body status with a body: undici's TypeError.
      if (copy !== null && (s === 204 || s === 205 || s === 304)) return undefined;
      status = s;
    }
    const t = init.statusText;
    if (t !== undefined) {
      if (typeof t !== 'string' || !REASON.test(t)) return undefined;
      statusText = t;
    }
  }
  return { status, statusText, fields, body: copy, sent: false };
}

/** init as undici's constructor would read it: each member once, in its order. */
function initOnce(init: unknown): unknown {
  if (!isPlainObject(init)) return init;
  const headers = init.headers;
  const status = init.status;
  const statusText = init.statusText;
  const once: Record<string, unknown> = {};
  if (headers !== undefined) once.headers = isPlainObject(headers) ? { ...headers } : headers;
  if (status !== undefined) once.status = status;
  if (statusText !== undefined) once.statusText = statusText;
  return once;
}

let Real: typeof Response | undefined;
let LightResponse: typeof Response | undefined;

/** The undici Response behind a light one, built on first need. */
function realOf(light: Light): Response {
  let real = light[REAL];
  if (real === undefined) {
    const r = light[RECORDED]!;
    real = new Real!(r.body, { status: r.status, statusText: r.statusText, headers: r.fields });
    // Sent already: its body is used (and locked), as the adapter leaves a real one.
    if (r.sent && real.body !== null) void real.body.getReader().read().catch(() => {});
    light[REAL] = real;
    light[RECORDED] = undefined;
  }
  return real;
}

function makeLight(R: typeof Response): typeof Response {
  class Response {
    [RECORDED]: Recorded | undefined;
    [REAL]: globalThis.Response | undefined;

    constructor(body: unknown = null, init: unknown = undefined) {
      const r = record(body, init);
      this[RECORDED] = r;
      this[REAL] = r === undefined ? new R(body as ConstructorParameters<typeof R>[0], initOnce(init) as ConstructorParameters<typeof R>[1]) : undefined;
    }

    static [Symbol.hasInstance](x: unknown): boolean {
      // The replaced global still answers for undici's own (fetch() results).
      return Function.prototype[Symbol.hasInstance].call(this, x) || (this === Light && x instanceof R);
    }

    get status(): number {
      return this[RECORDED]?.status ?? realOf(this).status;
    }

    get statusText(): string {
      return this[RECORDED]?.statusText ?? realOf(this).statusText;
    }

    get ok(): boolean {
      const s = this.status;
      return s >= 200 && s <= 299;
    }
  }
  const Light = Response;
  const proto = Light.prototype as unknown as Record<PropertyKey, unknown>;
  // Everything else undici's Response has (headers, body, clone, text, …)
  // goes to the real one, looked up here so that members of newer Nodes
  // (bytes()) come along.
  for (const name of Object.getOwnPropertyNames(R.prototype)) {
    if (name === 'constructor' || Object.prototype.hasOwnProperty.call(proto, name)) continue;
    const desc = Object.getOwnPropertyDescriptor(R.prototype, name)!;
    if (typeof desc.get === 'function') {
      Object.defineProperty(proto, name, {
        configurable: true, enumerable: desc.enumerable ?? false,
        get(this: Light) { return (realOf(this) as unknown as Record<string, unknown>)[name]; },
      });
    } else if (typeof desc.value === 'function') {
      Object.defineProperty(proto, name, {
        configurable: true, writable: true, enumerable: desc.enumerable ?? false,
        value(this: Light, ...args: unknown[]) {
          const real = realOf(this) as unknown as Record<string, (...a: unknown[]) => unknown>;
          return real[name]!(...args);
        },
      });
    }
  }
  Object.defineProperty(proto, Symbol.for('nodejs.util.inspect.custom'), {
    value(this: Light, _depth: number, options: object, inspect: (x: unknown, o: object) => string) {
      return inspect(realOf(this), options);
    },
  });
  Object.setPrototypeOf(Light.prototype, R.prototype);
  // The statics (json, redirect, error) are undici's: they return real Responses.
  Object.setPrototypeOf(Light, R);
  return Light as unknown as typeof globalThis.Response;
}

/** Whether `x` is one of ours (a Response made while the override was on). */
export function isLightResponse(x: unknown): boolean {
  return typeof x === 'object' && x !== null && REAL in x;
}

/**
 * What the adapter sends for a light Response still holding its record:
 * status, fields as undici's Headers would list them (lower case, sorted,
 * Set-Cookie last as the adapter sends it), and the body. Undefined when the
 * real one exists (or the record was sent already): send that.
 */
export function lightReply(x: object): { status: number; headers: Array<[string, string]>; body: string | Uint8Array | null } | undefined {
  const r = (x as Light)[RECORDED];
  if (r === undefined || r.sent) return undefined;
  const headers: Array<[string, string]> = [];
  let cookie: string | undefined;
  let type = false;
  for (const [name, value] of r.fields) {
    const lower = name.toLowerCase();
    if (lower === 'set-cookie') cookie = value;
    else {
      if (lower === 'content-type') type = true;
      headers.push([lower, value]);
    }
  }
  if (!type && typeof r.body === 'string') headers.push(['content-type', TEXT_PLAIN]);
  if (headers.length > 1) headers.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  if (cookie !== undefined) headers.push(['set-cookie', cookie]);
  if (r.body !== null) r.sent = true;
  return { status: r.status, headers, body: r.body };
}

/** The real Response behind any Response: undici's own as it is, ours built if need be. */
export function realResponse(x: Response): Response {
  return isLightResponse(x) ? realOf(x as unknown as Light) : x;
}

// ---- installing ------------------------------------------------------------------

let users = 0;
let saved: PropertyDescriptor | undefined;

/** The light class, made once per thread from the Response that was global first. */
export function lightResponseClass(): typeof Response {
  Real ??= globalThis.Response;
  return LightResponse ??= makeLight(Real);
}

/**
 * Makes the global Response the light one, for as long as at least one
 * caller holds it; the function returned gives it back (once). The last one
 * given back restores the original, unless someone else has replaced the
 * global since (theirs is left alone).
 */
export function overrideGlobalResponse(): () => void {
  const light = lightResponseClass();
  if (users++ === 0 && globalThis.Response !== light) {
    saved = Object.getOwnPropertyDescriptor(globalThis, 'Response');
    Object.defineProperty(globalThis, 'Response', { value: light, writable: true, configurable: true, enumerable: false });
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--users === 0 && saved !== undefined && globalThis.Response === light) {
      Object.defineProperty(globalThis, 'Response', saved);
      saved = undefined;
    }
  };
}
