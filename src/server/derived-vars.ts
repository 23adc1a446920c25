// The CGI variables of a request whose server derives them (tsgi's HTTP
// listener, toNodeListener on node:http), as var() and vars() give them: the
// properties, the two constants, and HTTP_* from the header list. One copy,
// so both servers name and join them alike.
import type { Request } from '../tsgi/types.js';

export const SERVER_SOFTWARE = 'tsgi';

const PERCENT = /%([0-9A-Fa-f]{2})/g;

/** Percent-decodes into a latin1 string (one char per byte), as WSGI does. */
export function unescapePath(raw: string): string {
  if (raw.indexOf('%') === -1) return raw;
  return raw.replace(PERCENT, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** SERVER_NAME from a Host value: the name without its port; without a Host, the local address, else "localhost". */
export function serverName(host: string, localAddress: string): string {
  if (host === '') return localAddress === '' ? 'localhost' : localAddress;
  if (host[0] === '[') {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

export function cgiName(header: string): string {
  return 'HTTP_' + header.toUpperCase().replace(/-/g, '_');
}

type Derived = Omit<Request, 'var' | 'vars'>;

/** req.var(name) for a derived request. */
export function derivedVar(req: Derived & { vars(): Record<string, string> }, name: string): string | undefined {
  switch (name) {
    case 'REQUEST_METHOD': return req.REQUEST_METHOD;
    case 'SCRIPT_NAME': return req.SCRIPT_NAME;
    case 'PATH_INFO': return req.PATH_INFO;
    case 'QUERY_STRING': return req.QUERY_STRING;
    case 'REQUEST_URI': return req.REQUEST_URI;
    case 'CONTENT_TYPE': return req.CONTENT_TYPE;
    case 'CONTENT_LENGTH': return req.CONTENT_LENGTH;
    case 'SERVER_NAME': return req.SERVER_NAME;
    case 'SERVER_PORT': return req.SERVER_PORT;
    case 'SERVER_PROTOCOL': return req.SERVER_PROTOCOL;
    case 'REMOTE_ADDR': return req.REMOTE_ADDR;
    case 'REMOTE_PORT': return req.REMOTE_PORT;
    case 'GATEWAY_INTERFACE': return 'CGI/1.1';
    case 'SERVER_SOFTWARE': return SERVER_SOFTWARE;
  }
  if (name.startsWith('HTTP_')) return req.vars()[name];
  return undefined;
}

/** req.vars() for a derived request: repeated headers joined (", "; "; " for Cookie). */
export function derivedVars(req: Derived): Record<string, string> {
  const v: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE,
    REQUEST_METHOD: req.REQUEST_METHOD,
    SCRIPT_NAME: req.SCRIPT_NAME,
    PATH_INFO: req.PATH_INFO,
    QUERY_STRING: req.QUERY_STRING,
    REQUEST_URI: req.REQUEST_URI,
    CONTENT_TYPE: req.CONTENT_TYPE,
    CONTENT_LENGTH: req.CONTENT_LENGTH,
    SERVER_NAME: req.SERVER_NAME,
    SERVER_PORT: req.SERVER_PORT,
    SERVER_PROTOCOL: req.SERVER_PROTOCOL,
    REMOTE_ADDR: req.REMOTE_ADDR,
    REMOTE_PORT: req.REMOTE_PORT,
  };
  for (const [name, value] of req.headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-type' || lower === 'content-length') continue;
    const key = cgiName(name);
    const prev = v[key];
    v[key] = prev === undefined ? value : prev + (lower === 'cookie' ? '; ' : ', ') + value;
  }
  return v;
}
