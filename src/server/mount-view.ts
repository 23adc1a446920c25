// The request an app mounted by dispatch() sees: SCRIPT_NAME and PATH_INFO
// changed, every other property the server's request, nothing copied. Here,
// below both dispatch/ (which makes these views) and adapters/ (which ask
// whether a request is one, to give a framework the path below its mount).
import type { Body, ErrorStream, Request, ServerInfo } from '../tsgi/types.js';

/** True for the request dispatch() hands to a mounted app (the adapters ask: see adapters/target.ts). */
export function isMountView(req: Request): boolean {
  return req instanceof MountedRequest;
}

/** The request an app under a mount point sees: two variables changed, the rest the server's. */
export class MountedRequest implements Request {
  constructor(
    /** The server's request (never another MountedRequest: nesting flattens). */
    readonly outer: Request,
    readonly SCRIPT_NAME: string,
    readonly PATH_INFO: string,
  ) {}

  get REQUEST_METHOD(): string { return this.outer.REQUEST_METHOD; }
  get QUERY_STRING(): string { return this.outer.QUERY_STRING; }
  get REQUEST_URI(): string { return this.outer.REQUEST_URI; }
  get CONTENT_TYPE(): string { return this.outer.CONTENT_TYPE; }
  get CONTENT_LENGTH(): string { return this.outer.CONTENT_LENGTH; }
  get SERVER_NAME(): string { return this.outer.SERVER_NAME; }
  get SERVER_PORT(): string { return this.outer.SERVER_PORT; }
  get SERVER_PROTOCOL(): string { return this.outer.SERVER_PROTOCOL; }
  get REMOTE_ADDR(): string { return this.outer.REMOTE_ADDR; }
  get REMOTE_PORT(): string { return this.outer.REMOTE_PORT; }
  get headers(): ReadonlyArray<readonly [string, string]> { return this.outer.headers; }
  get body(): Body { return this.outer.body; }
  get data(): Body | undefined { return this.outer.data; }
  get errors(): ErrorStream { return this.outer.errors; }
  get signal(): AbortSignal { return this.outer.signal; }
  get tsgi(): ServerInfo { return this.outer.tsgi; }

  var(name: string): string | undefined {
    if (name === 'SCRIPT_NAME') return this.SCRIPT_NAME;
    if (name === 'PATH_INFO') return this.PATH_INFO;
    return this.outer.var(name);
  }

  vars(): Record<string, string> {
    const v = this.outer.vars();
    v.SCRIPT_NAME = this.SCRIPT_NAME;
    v.PATH_INFO = this.PATH_INFO;
    return v;
  }

  header(name: string): string | undefined {
    return this.outer.header(name);
  }
}
