// node:http's listen() arguments, in all their forms, as the one address
// serve() binds: "127.0.0.1:8000", ":8000", "[::1]:8000", "unix:/path.sock",
// "fd:3". Node's own rules decide which form a call is: an object is options
// (or a handle with an fd), a string that is not a number is a path, anything
// else a port, optionally followed by a host; a function last is the
// 'listening' callback.
import { isIPv6 } from 'node:net';
import { nodeError } from './errors.js';

export interface ListenTarget {
  /** What serve() binds. */
  readonly address: string;
  /** A unix socket's path as given (address() returns it); undefined for TCP and fds. */
  readonly path?: string;
  /** TCP: the host and port asked for (node's error messages name them). */
  readonly host?: string;
  readonly port?: number;
  readonly callback?: () => void;
  readonly signal?: AbortSignal;
}

interface ListenOptions {
  port?: unknown;
  host?: unknown;
  path?: unknown;
  fd?: unknown;
  handle?: unknown;
  ipv6Only?: unknown;
  signal?: unknown;
}

/** Node's validatePort: an integer 0..65535, as a number or a decimal string. */
function port(value: unknown, name: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : typeof value === 'number' ? value : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw nodeError(RangeError, 'ERR_SOCKET_BAD_PORT',
      `${name} should be >= 0 and < 65536. Received ${typeof value} (${String(value)}).`);
  }
  return n;
}

/** Node's rule: a string that is not a number names a socket path. */
function isPath(x: unknown): x is string {
  return typeof x === 'string' && x !== '' && Number.isNaN(Number(x));
}

/** A TCP target for serve(): no host listens on all interfaces, IPv4 and IPv6, as node:http does. */
function tcp(host: unknown, p: number, ipv6Only: boolean): { address: string; host: string; port: number } {
  if (host === undefined || host === null || host === '') return { address: ipv6Only ? `[::]:${p}` : `:${p}`, host: '::', port: p };
  return { address: tcpAddress(host, p, ipv6Only), host: host as string, port: p };
}

function tcpAddress(host: unknown, p: number, ipv6Only: boolean): string {
  if (typeof host !== 'string') {
    throw nodeError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.host" property must be of type string. Received ${typeof host}`);
  }
  if (isIPv6(host)) {
    // node:http takes "::" as every interface of both families unless ipv6Only.
    if (!ipv6Only && /^(?:0{0,4}:){2,7}0{0,4}$/.test(host)) return `:${p}`;
    return `[${host}]:${p}`;
  }
  return `${host}:${p}`;
}

function unixAddress(path: string): string {
  // Node names a Linux abstract socket with a leading NUL; serve() with "@".
  return path[0] === '\0' ? `@${path.slice(1)}` : `unix:${path}`;
}

function fdOf(handle: unknown): number | undefined {
  if (handle === null || typeof handle !== 'object') return undefined;
  const fd = (handle as { fd?: unknown }).fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/** listen()'s arguments as a target; throws node's errors for what node throws on. */
export function listenTarget(args: readonly unknown[]): ListenTarget {
  const last = args[args.length - 1];
  const callback = typeof last === 'function' ? last as () => void : undefined;
  const first = args[0];
  if (first !== null && typeof first === 'object') {
    const o = first as ListenOptions;
    const fd = fdOf(o) ?? fdOf(o.handle);
    const signal = o.signal instanceof AbortSignal ? o.signal : undefined;
    const base = { ...(callback ? { callback } : {}), ...(signal ? { signal } : {}) };
    if (fd !== undefined) return { address: `fd:${fd}`, ...base };
    if ('port' in o && (o.port === undefined || o.port === null)) {
      return { ...tcp(o.host, 0, o.ipv6Only === true), ...base };
    }
    if (typeof o.port === 'number' || typeof o.port === 'string') {
      return { ...tcp(o.host, port(o.port, 'options.port'), o.ipv6Only === true), ...base };
    }
    if (isPath(o.path)) return { address: unixAddress(o.path), path: o.path, ...base };
    throw nodeError(TypeError, 'ERR_INVALID_ARG_VALUE',
      'The argument \'options\' must have the property "port" or "path". Received ' + safeString(first));
  }
  if (first === undefined || first === null || typeof first === 'function') {
    const host = typeof args[1] === 'string' ? args[1] : undefined;
    return { ...tcp(host, 0, false), ...(callback ? { callback } : {}) };
  }
  if (isPath(first)) return { address: unixAddress(first), path: first, ...(callback ? { callback } : {}) };
  const host = typeof args[1] === 'string' ? args[1] : undefined;
  return { ...tcp(host, port(first, 'options.port'), false), ...(callback ? { callback } : {}) };
}

function safeString(x: unknown): string {
  try {
    return JSON.stringify(x);
  } catch {
    return String(x);
  }
}
