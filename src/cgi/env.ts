// A script's environment (RFC 3875 4.1, 7.2): the meta-variables of the
// request and nothing of the server's own environment but the base the
// operator configured (PATH, --cgi-env).
import * as path from 'node:path';
import type { Request } from '../tsgi/types.js';
import type { Script } from './host.js';

// Not passed as HTTP_*: carried as CONTENT_* (4.1.2, 4.1.3); credentials the
// server did not check (4.1.18 "SHOULD NOT"; Apache's CGIPassAuth off);
// Proxy, which would become HTTP_PROXY and steer the script's HTTP client
// (httpoxy, CVE-2016-5385); and the hop-by-hop fields of our own connection.
const NOT_PASSED = new Set(['content-type', 'content-length', 'authorization', 'proxy-authorization', 'proxy',
  'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
// Letters, digits and "-" only, as Apache builds its CGI environment: a field
// named X_Forwarded_For cannot pose as X-Forwarded-For once mapped.
const SAFE_NAME = /^[A-Za-z0-9-]+$/;

export interface EnvOptions {
  base: Readonly<Record<string, string>>;
  documentRoot: string;
  /** Decimal, or "" when there is no body. */
  contentLength: string;
  software: string;
}

export function cgiEnv(req: Request, script: Script, o: EnvOptions): Record<string, string> {
  const env: Record<string, string> = { ...o.base };
  for (const [name, value] of req.headers) {
    if (!SAFE_NAME.test(name)) continue;
    const lower = name.toLowerCase();
    if (NOT_PASSED.has(lower)) continue;
    const key = 'HTTP_' + lower.toUpperCase().replace(/-/g, '_');
    const prev = env[key];
    // 4.1.18: repeated fields become one, with the same meaning.
    env[key] = prev === undefined ? value : prev + (lower === 'cookie' ? '; ' : ', ') + value;
  }
  const scheme = req.tsgi.url_scheme;
  const host = (req.header('host') ?? '').replace(/:\d+$/, '');
  Object.assign(env, {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: o.software,
    SERVER_NAME: req.SERVER_NAME || host || 'localhost',
    // 4.1.15: MUST be set, even for the default port.
    SERVER_PORT: req.SERVER_PORT || (scheme === 'https' ? '443' : '80'),
    SERVER_PROTOCOL: req.SERVER_PROTOCOL,
    REQUEST_METHOD: req.REQUEST_METHOD,
    // 4.1.7: MUST be set, "" when there is no query.
    QUERY_STRING: req.QUERY_STRING,
    REQUEST_URI: req.REQUEST_URI,
    REQUEST_SCHEME: scheme,
    SCRIPT_NAME: req.SCRIPT_NAME + script.scriptName,
    SCRIPT_FILENAME: script.file,
    PATH_INFO: script.pathInfo,
    DOCUMENT_ROOT: o.documentRoot,
    REMOTE_ADDR: req.REMOTE_ADDR,
    // 4.1.9: SHOULD be set; we do no DNS lookups, so the address stands in.
    REMOTE_HOST: req.REMOTE_ADDR,
  });
  if (req.REMOTE_PORT !== '') env.REMOTE_PORT = req.REMOTE_PORT;
  // 4.1.6: PATH_INFO mapped onto the document tree; unset when PATH_INFO is.
  if (script.pathInfo !== '') env.PATH_TRANSLATED = path.join(o.documentRoot, script.pathInfo);
  if (scheme === 'https') env.HTTPS = 'on';
  const addr = req.var('SERVER_ADDR');
  if (addr) env.SERVER_ADDR = addr;
  // 4.1.2, 4.1.3: set only when there is a body / a type.
  if (o.contentLength !== '' && o.contentLength !== '0') env.CONTENT_LENGTH = o.contentLength;
  if (req.CONTENT_TYPE !== '') env.CONTENT_TYPE = req.CONTENT_TYPE;
  return env;
}
