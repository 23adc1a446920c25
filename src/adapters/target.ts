// The request-target an adapted app (Express, Koa, Fastify, Hono) sees as its
// URL. A framework routes on the URL, while a TSGI app routes on PATH_INFO; so
// under a mount — dispatch()'s, or a web server's SCRIPT_NAME with PATH_INFO
// below it — the framework sees the path below the mount point, as Express's
// own app.use(prefix, sub) and WSGI frameworks do. Elsewhere it sees
// REQUEST_URI as the client sent it.
import type { Request } from '../tsgi/types.js';
import { isMountView } from '../dispatch/mount.js';

const PATH_SAFE = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/;

/** PATH_INFO is decoded, one char per byte: percent-encode it back for a URL. */
export function encodePath(decoded: string): string {
  if (!PATH_SAFE.test(decoded) && decoded.indexOf('%') === -1) return decoded;
  let out = '';
  for (let i = 0; i < decoded.length; i++) {
    const ch = decoded[i]!;
    const c = decoded.charCodeAt(i);
    out += c < 0x80 && ch !== '%' && !PATH_SAFE.test(ch) ? ch : '%' + (c < 16 ? '0' : '') + c.toString(16).toUpperCase();
  }
  return out;
}

/**
 * The origin-form target for the app. Apache's mod_proxy_fcgi and
 * mod_proxy_scgi send the whole path as SCRIPT_NAME and no PATH_INFO: that is
 * not a mount, and REQUEST_URI is kept whole.
 */
export function appTarget(req: Request): string {
  const uri = req.REQUEST_URI;
  const script = req.SCRIPT_NAME;
  const query = req.QUERY_STRING;
  const mounted = script !== '' && (req.PATH_INFO !== '' || isMountView(req));
  if (!mounted) {
    if (uri !== '' && uri[0] === '/') return uri;
    const path = encodePath(script + req.PATH_INFO) || '/';
    return query === '' ? path : `${path}?${query}`;
  }
  if (uri.startsWith(script)) {
    const rest = uri.slice(script.length);
    if (rest === '' || rest[0] === '?') return '/' + rest;
    if (rest[0] === '/') return rest;
  }
  // REQUEST_URI spells the mount point differently (percent-encoded) or is absent.
  const path = encodePath(req.PATH_INFO || '/');
  return query === '' ? path : `${path}?${query}`;
}
