// The request-target an adapted app (Express, Koa, Fastify, Hono) sees as its
// URL. A framework routes on the URL, while a TSGI app routes on PATH_INFO; so
// under a mount — dispatch()'s, or a web server's SCRIPT_NAME with PATH_INFO
// below it — the framework sees the path below the mount point, as Express's
// own app.use(prefix, sub) and WSGI frameworks do. Elsewhere it sees
// REQUEST_URI as the client sent it.
import type { Request } from '../tsgi/types.js';
import { isMountView } from '../server/mount-view.js';
import { encodePath, type PathText } from '../server/encode-path.js';

/** Run-as-CGI's variables come from process.env, which Node decodes as UTF-8; the server's are latin1. */
function pathText(req: Request): PathText {
  return req.tsgi.protocol === 'cgi' ? 'utf8' : 'latin1';
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
    const path = encodePath(script + req.PATH_INFO, pathText(req)) || '/';
    return query === '' ? path : `${path}?${query}`;
  }
  if (uri.startsWith(script)) {
    const rest = uri.slice(script.length);
    if (rest === '' || rest[0] === '?') return '/' + rest;
    if (rest[0] === '/') return rest;
  }
  // REQUEST_URI spells the mount point differently (percent-encoded) or is absent.
  const path = encodePath(req.PATH_INFO || '/', pathText(req));
  return query === '' ? path : `${path}?${query}`;
}
