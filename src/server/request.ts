// The request as the app sees it: a view over the record the core wrote into
// the batch buffer (layout in native/napi/abi.h). Strings are decoded
// the first time they are read; nothing else is built per request.
import type { Request, ServerInfo } from '../tsgi/types.js';
import { BaseRequest, type BodyFlow } from './base-request.js';
import { PAIR, RECORD, RECORD_FLAGS } from '../native/abi.js';
import { derivedVar, derivedVars, SERVER_SOFTWARE, serverName, unescapePath } from './derived-vars.js';
import { clientAddress, type Trust } from './trusted-proxy.js';

const { HEAD: W_HEAD, FLAGS: W_FLAGS, LENGTH_LO: W_CL_LO, LENGTH_HI: W_CL_HI, METHOD: W_METHOD, TARGET: W_TARGET,
  PATH: W_PATH, QUERY: W_QUERY, HOST: W_HOST, PEER: W_PEER, PEER_PORT: W_PEER_PORT, LOCAL: W_LOCAL,
  LOCAL_PORT: W_LOCAL_PORT, COUNT: W_NHEADERS, PAIRS: W_HEADERS } = RECORD;
const { NAME: P_NAME, VALUE: P_VALUE, SIZE: P_SIZE } = PAIR;
const { CONTENT_LENGTH: F_CONTENT_LENGTH, HTTP11: F_HTTP11, LENGTH_KNOWN: F_LENGTH_KNOWN, UPGRADABLE: F_UPGRADABLE, WEBSOCKET: F_WEBSOCKET } =
  RECORD_FLAGS;

/** Per-listener facts a request needs. */
export interface ListenerInfo {
  readonly tcp: boolean;
  readonly info: ServerInfo;
  readonly log: (line: string) => void;
  /** --trusted-proxy: peers whose X-Forwarded-For is believed (HTTP listeners only). */
  readonly trust?: Trust | undefined;
}

// Buffer#latin1Slice skips toString()'s encoding lookup; it is internal, so
// fall back to toString() if a Node release drops it.
type Latin1 = (buf: Buffer, start: number, end: number) => string;
const proto = Buffer.prototype as Buffer & { latin1Slice?: (start: number, end: number) => string };
export const latin1: Latin1 = typeof proto.latin1Slice === 'function'
  ? (buf, start, end) => (buf as typeof proto).latin1Slice!(start, end)
  : (buf, start, end) => buf.toString('latin1', start, end);

export class HttpRequest extends BaseRequest implements Request {
  private readonly head: number;
  private _path: string | undefined;
  private _headers: Array<readonly [string, string]> | undefined;
  /** With a trusted proxy: the client's address, once worked out. */
  private _remote: string | undefined;

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

  private slice(word: number): string {
    const off = this.head + this.u32[this.w + word]!;
    return latin1(this.buf, off, off + this.u32[this.w + word + 1]!);
  }

  get flags(): number {
    return this.u32[this.w + W_FLAGS]!;
  }

  protected get bodyLength(): number {
    const u32 = this.u32;
    return u32[this.w + W_FLAGS]! & F_LENGTH_KNOWN ? u32[this.w + W_CL_LO]! + u32[this.w + W_CL_HI]! * 2 ** 32 : -1;
  }

  get REQUEST_METHOD(): string {
    return this.slice(W_METHOD);
  }

  get SCRIPT_NAME(): string {
    return '';
  }

  get PATH_INFO(): string {
    if (this._path === undefined) {
      const raw = this.u32[this.w + W_PATH + 1] === 0 ? '/' : this.slice(W_PATH);
      this._path = unescapePath(raw);
    }
    return this._path;
  }

  get QUERY_STRING(): string {
    return this.slice(W_QUERY);
  }

  get REQUEST_URI(): string {
    return this.slice(W_TARGET);
  }

  get CONTENT_TYPE(): string {
    return this.header('content-type') ?? '';
  }

  get CONTENT_LENGTH(): string {
    if (!(this.flags & F_CONTENT_LENGTH)) return '';
    const lo = this.u32[this.w + W_CL_LO]!;
    const hi = this.u32[this.w + W_CL_HI]!;
    return String(hi * 4294967296 + lo);
  }

  get SERVER_NAME(): string {
    const host = this.slice(W_HOST);
    return serverName(host, host === '' ? this.localHost() : '');
  }

  get SERVER_PORT(): string {
    if (this.listener.tcp) return String(this.u32[this.w + W_LOCAL_PORT]);
    const host = this.slice(W_HOST);
    const m = /:(\d+)$/.exec(host);
    return m ? m[1]! : this.listener.info.url_scheme === 'https' ? '443' : '80';
  }

  get SERVER_PROTOCOL(): string {
    return this.flags & F_HTTP11 ? 'HTTP/1.1' : 'HTTP/1.0';
  }

  private get peer(): string {
    const off = this.u32[this.w + W_PEER]!;
    return latin1(this.buf, off, off + this.u32[this.w + W_PEER + 1]!);
  }

  get REMOTE_ADDR(): string {
    const trust = this.listener.trust;
    if (trust === undefined) return this.peer;
    if (this._remote === undefined) {
      const peer = this.peer;
      // header() joins every X-Forwarded-For line, in order, with ", ".
      const xff = trust(peer) ? this.header('x-forwarded-for') : undefined;
      this._remote = clientAddress(peer, xff === undefined ? [] : [xff], trust);
    }
    return this._remote;
  }

  get REMOTE_PORT(): string {
    if (!this.listener.tcp) return '';
    // A client named by a proxy has no port we know.
    if (this.listener.trust !== undefined && this.REMOTE_ADDR !== this.peer) return '';
    return String(this.u32[this.w + W_PEER_PORT]);
  }

  private localHost(): string {
    const off = this.u32[this.w + W_LOCAL]!;
    return latin1(this.buf, off, off + this.u32[this.w + W_LOCAL + 1]!);
  }

  get headers(): ReadonlyArray<readonly [string, string]> {
    if (this._headers === undefined) {
      const n = this.u32[this.w + W_NHEADERS]!;
      const list: Array<readonly [string, string]> = [];
      for (let i = 0; i < n; i++) {
        const at = this.w + W_HEADERS + P_SIZE * i;
        const nOff = this.head + this.u32[at + P_NAME]!;
        const name = latin1(this.buf, nOff, nOff + this.u32[at + P_NAME + 1]!);
        if (name.indexOf('_') !== -1) continue;
        const vOff = this.head + this.u32[at + P_VALUE]!;
        list.push([name, latin1(this.buf, vOff, vOff + this.u32[at + P_VALUE + 1]!)]);
      }
      this._headers = list;
    }
    return this._headers;
  }

  header(name: string): string | undefined {
    // Common case without building the list: scan the record for the name.
    const want = name.length;
    const lower = name.toLowerCase();
    const n = this.u32[this.w + W_NHEADERS]!;
    let found: string | undefined;
    for (let i = 0; i < n; i++) {
      const at = this.w + W_HEADERS + P_SIZE * i;
      if (this.u32[at + P_NAME + 1] !== want) continue;
      const nOff = this.head + this.u32[at + P_NAME]!;
      const candidate = latin1(this.buf, nOff, nOff + want);
      if (candidate.toLowerCase() !== lower || candidate.indexOf('_') !== -1) continue;
      const vOff = this.head + this.u32[at + P_VALUE]!;
      const value = latin1(this.buf, vOff, vOff + this.u32[at + P_VALUE + 1]!);
      const sep = lower === 'cookie' ? '; ' : ', ';
      found = found === undefined ? value : found + sep + value;
    }
    return found;
  }

  var(name: string): string | undefined {
    return derivedVar(this, name);
  }

  vars(): Record<string, string> {
    return derivedVars(this);
  }

  protected logLine(line: string): void {
    this.listener.log(line);
  }

  get tsgi(): ServerInfo {
    const f = this.flags;
    if (!(f & F_UPGRADABLE)) return this.listener.info;
    // Only a request that may switch protocols has facts of its own.
    return Object.freeze({ ...this.listener.info, upgrade: true, websocket: (f & F_WEBSOCKET) !== 0 });
  }
}

export { SERVER_SOFTWARE };
