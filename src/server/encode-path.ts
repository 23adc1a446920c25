// A decoded path (SCRIPT_NAME, PATH_INFO) percent-encoded back into a
// request-target path: REQUEST_URI rebuilt in run-as-CGI mode, an adapted
// app's URL (src/adapters/target.ts). No imports: run-as-CGI loads this and
// must stay light (docs/cgi.md, "Start-up is the cost").

/** Anything but an RFC 3986 3.3 pchar or "/". '%' is here: in a decoded path it is a literal '%', sent as %25. */
const UNSAFE = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/;

/**
 * How the path's bytes became a string. 'latin1': one char per byte, as
 * tsgi's server gives every request (docs/tsgi.md 2.2). 'utf8': decoded as
 * UTF-8, as Node decodes process.env, where run-as-CGI finds its variables.
 * A char above 0xFF is not a byte in either: it is sent as its UTF-8 bytes.
 */
export type PathText = 'latin1' | 'utf8';

export function encodePath(decoded: string, text: PathText = 'latin1'): string {
  if (!UNSAFE.test(decoded)) return decoded;
  const bytesFrom = text === 'utf8' ? 0x80 : 0x100;
  let out = '';
  for (const ch of decoded) {  // by code point: a surrogate pair is one character
    const c = ch.codePointAt(0)!;
    if (c < 0x80 && !UNSAFE.test(ch)) out += ch;
    else if (c < bytesFrom) out += hex(c);
    else for (const b of Buffer.from(ch, 'utf8')) out += hex(b);
  }
  return out;
}

function hex(b: number): string {
  return (b < 16 ? '%0' : '%') + b.toString(16).toUpperCase();
}
