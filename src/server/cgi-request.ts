// The request of the CGI-style protocols (uwsgi, SCGI): the front server sent
// the CGI variables themselves, so each property is the variable of that name
// as sent, decoded the first time it is read. Nothing is re-derived: PATH_INFO
// and SCRIPT_NAME are the web server's, as CGI intends.
import type { Request, ServerInfo } from '../tsgi/types.js';
import { BaseRequest, type BodyFlow } from './base-request.js';
import { PAIR, RECORD, RECORD_FLAGS } from '../native/abi.js';
import { latin1, SERVER_SOFTWARE, type ListenerInfo } from './request.js';
const { HEAD: W_HEAD, FLAGS: W_FLAGS, LENGTH_LO: W_CL_LO, LENGTH_HI: W_CL_HI, PEER: W_PEER, PEER_PORT: W_PEER_PORT,
  COUNT: W_COUNT, PAIRS: W_VARS } = RECORD;
const { NAME: P_NAME, VALUE: P_VALUE, SIZE: P_SIZE } = PAIR;
const { AUTHORIZER: F_AUTHORIZER, FILTER: F_FILTER, LENGTH_KNOWN: F_LENGTH_KNOWN, STRIP_SCRIPT_NAME: F_STRIP_SCRIPT_NAME } =
  RECORD_FLAGS;

/** Single lookups before a request decodes all its variables at once. */
const LOOKUPS_BEFORE_ALL = 8;

/** The variables that are Request properties: always a string, "" when not sent. */
const ALWAYS = new Set(['REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'REQUEST_URI', 'CONTENT_TYPE',
  'CONTENT_LENGTH', 'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL', 'REMOTE_ADDR', 'REMOTE_PORT']);

function headerName(cgi: string): string {
  // HTTP_X_FORWARDED_FOR -> x-forwarded-for: the original case is lost on the
  // way; header names are case-insensitive (RFC 9110 5.1).
  return cgi.slice(5).toLowerCase().replace(/_/g, '-');
}

export class CgiRequest extends BaseRequest implements Request {
  private readonly head: number;
  private cache: Map<string, string> | undefined;
  private lookups = 0;
  private _path: string | undefined;
  private _headers: Array<readonly [string, string]> | undefined;
  private _info: ServerInfo | undefined;

  constructor(
    private readonly buf: Buffer,
    private readonly u32: Uint32Array,
    private readonly w: number,
    handle: number,
    private readonly listener: ListenerInfo,
    native: BodyFlow,
  ) {
    super(handle, native);
    this.head = u32[w + W_HEAD]!;
  }

  get flags(): number {
    return this.u32[this.w + W_FLAGS]!;
  }

  protected get bodyLength(): number {
    const u32 = this.u32;
    return u32[this.w + W_FLAGS]! & F_LENGTH_KNOWN ? u32[this.w + W_CL_LO]! + u32[this.w + W_CL_HI]! * 2 ** 32 : -1;
  }

  /** All variables, decoded once on first use (a few dozen short strings). */
  private all(): Map<string, string> {
    if (this.cache === undefined) {
      const m = new Map<string, string>();
      const n = this.u32[this.w + W_COUNT]!;
      for (let i = 0; i < n; i++) {
        const at = this.w + W_VARS + P_SIZE * i;
        const nOff = this.head + this.u32[at + P_NAME]!;
        const vOff = this.head + this.u32[at + P_VALUE]!;
        const name = latin1(this.buf, nOff, nOff + this.u32[at + P_NAME + 1]!);
        const value = latin1(this.buf, vOff, vOff + this.u32[at + P_VALUE + 1]!);
        const prev = m.get(name);
        if (prev === undefined) {
          m.set(name, value);
        } else if (name.startsWith('HTTP_')) {
          // nginx < 1.23 repeats a repeated header; join as later nginx does.
          m.set(name, prev + (name === 'HTTP_COOKIE' ? '; ' : ', ') + value);
        }
      }
      this.cache = m;
    }
    return this.cache;
  }

  /**
   * One variable, found by comparing names in the record's bytes: only its
   * value is decoded. Past a few lookups, all() decodes the lot once.
   */
  private lookup(name: string): string | undefined {
    if (this.cache !== undefined || ++this.lookups > LOOKUPS_BEFORE_ALL) return this.all().get(name);
    const u32 = this.u32;
    const buf = this.buf;
    const len = name.length;
    const n = u32[this.w + W_COUNT]!;
    let found: string | undefined;
    for (let i = 0; i < n; i++) {
      const at = this.w + W_VARS + P_SIZE * i;
      if (u32[at + P_NAME + 1] !== len) continue;
      const nOff = this.head + u32[at + P_NAME]!;
      let j = 0;
      while (j < len && buf[nOff + j] === name.charCodeAt(j)) j++;
      if (j !== len) continue;
      const vOff = this.head + u32[at + P_VALUE]!;
      const value = latin1(buf, vOff, vOff + u32[at + P_VALUE + 1]!);
      // As all(): the first wins, a repeated HTTP_ header is joined.
      if (found === undefined) {
        found = value;
        if (!name.startsWith('HTTP_')) return found;
      } else {
        found += (name === 'HTTP_COOKIE' ? '; ' : ', ') + value;
      }
    }
    return found;
  }

  private get1(name: string): string {
    return this.lookup(name) ?? '';
  }

  get REQUEST_METHOD(): string { return this.get1('REQUEST_METHOD'); }
  get SCRIPT_NAME(): string { return this.get1('SCRIPT_NAME'); }
  get PATH_INFO(): string {
    if (this._path === undefined) {
      // nginx's stock scgi_params sends no PATH_INFO, only DOCUMENT_URI (the
      // decoded path): without PATH_INFO, that is the path.
      const info = this.lookup('PATH_INFO');
      const documentUri = info === undefined ? this.lookup('DOCUMENT_URI') : undefined;
      let path = info ?? documentUri ?? '';
      const fromDocumentUri = documentUri !== undefined;
      // uwsgi modifier1 30: the web server sent the full path; SCRIPT_NAME is
      // the mount point to take off its front.
      const script = this.SCRIPT_NAME;
      if ((this.flags & F_STRIP_SCRIPT_NAME || fromDocumentUri) && script !== '' && path.startsWith(script)) {
        path = path.slice(script.length);
      }
      this._path = path;
    }
    return this._path;
  }
  get QUERY_STRING(): string { return this.get1('QUERY_STRING'); }
  get REQUEST_URI(): string { return this.get1('REQUEST_URI'); }
  get CONTENT_TYPE(): string { return this.get1('CONTENT_TYPE'); }
  /** As the web server sent it: "" for a FastCGI body of unknown length. */
  get CONTENT_LENGTH(): string { return this.get1('CONTENT_LENGTH'); }
  get SERVER_NAME(): string { return this.get1('SERVER_NAME'); }
  get SERVER_PORT(): string { return this.get1('SERVER_PORT'); }
  get SERVER_PROTOCOL(): string { return this.get1('SERVER_PROTOCOL') || 'HTTP/1.0'; }
  get REMOTE_ADDR(): string { return this.get1('REMOTE_ADDR'); }
  get REMOTE_PORT(): string { return this.get1('REMOTE_PORT'); }

  /** The peer that sent the request: the web server, not the client. */
  get peer(): { address: string; port: number } {
    const off = this.u32[this.w + W_PEER]!;
    return {
      address: latin1(this.buf, off, off + this.u32[this.w + W_PEER + 1]!),
      port: this.u32[this.w + W_PEER_PORT]!,
    };
  }

  var(name: string): string | undefined {
    if (name === 'PATH_INFO') return this.PATH_INFO;
    const v = this.lookup(name);
    if (v !== undefined) return v;
    // What a web server left out of the variables every request has (RFC
    // 3875 4.1: GATEWAY_INTERFACE is one; nginx's uwsgi_params omits it).
    if (name === 'GATEWAY_INTERFACE') return 'CGI/1.1';
    if (name === 'SERVER_SOFTWARE') return SERVER_SOFTWARE;
    return ALWAYS.has(name) ? '' : undefined;
  }

  vars(): Record<string, string> {
    const v: Record<string, string> = { GATEWAY_INTERFACE: 'CGI/1.1', SERVER_SOFTWARE };
    for (const name of ALWAYS) v[name] = '';
    for (const [name, value] of this.all()) v[name] = value;
    v.PATH_INFO = this.PATH_INFO;
    return v;
  }

  header(name: string): string | undefined {
    const lower = name.toLowerCase();
    if (lower === 'content-type') return this.lookup('CONTENT_TYPE') || undefined;
    if (lower === 'content-length') return this.lookup('CONTENT_LENGTH') || undefined;
    return this.lookup('HTTP_' + lower.toUpperCase().replace(/-/g, '_'));
  }

  get headers(): ReadonlyArray<readonly [string, string]> {
    if (this._headers === undefined) {
      const list: Array<readonly [string, string]> = [];
      for (const [name, value] of this.all()) {
        if (name.startsWith('HTTP_')) list.push([headerName(name), value]);
      }
      this._headers = list;
    }
    return this._headers;
  }

  protected logLine(line: string): void {
    this.listener.log(line);
  }

  get tsgi(): ServerInfo {
    if (this._info === undefined) {
      // The scheme the client used, as the web server reports it.
      const https = (this.lookup('HTTPS') ?? '').toLowerCase();
      const scheme = (this.lookup('REQUEST_SCHEME') || this.lookup('UWSGI_SCHEME') || '').toLowerCase();
      const secure = https === 'on' || https === '1' || scheme === 'https';
      const role = this.flags & F_AUTHORIZER ? 'authorizer' as const
        : this.flags & F_FILTER ? 'filter' as const : undefined;
      this._info = secure || role
        ? Object.freeze({
          ...this.listener.info,
          url_scheme: secure ? 'https' as const : this.listener.info.url_scheme,
          ...(role ? { role } : {}),
        })
        : this.listener.info;
    }
    return this._info;
  }
}

export { SERVER_SOFTWARE };
