// What every request kind shares with the server: its handle, the body the
// app may read, the abort signal, and the reply's progress. HttpRequest and
// CgiRequest add how the variables are read from their records.
import type { Body, ErrorStream } from '../tsgi/types.js';
import { RECORD_FLAGS, REPLY } from '../native/abi.js';
import { RequestBody, type BodyControl } from './body.js';

export interface BodyFlow {
  readBody(handle: number, flowing: boolean, into?: Uint8Array, limit?: number): number;
  readInto(handle: number, into: Uint8Array): number;
  readData(handle: number, flowing: boolean): number;
  writeStderr(handle: number, chunk: string | Uint8Array): number;
}

const { FILTER: F_FILTER, NO_BODY: F_NO_BODY } = RECORD_FLAGS;
const { GONE, FULL } = REPLY;

/** FILTER's DATA stream flows through its own call, like the body through its own. */
class DataControl implements BodyControl {
  constructor(private readonly req: BaseRequest) {}
  flow(on: boolean): void {
    this.req.flowData(on);
  }
}

/** req.errors: made on first use. */
class RequestErrors implements ErrorStream {
  constructor(private readonly req: BaseRequest) {}
  write(chunk: string | Uint8Array): boolean {
    return this.req.writeError(chunk);
  }
}

export abstract class BaseRequest implements BodyControl {
  private _body: RequestBody | undefined;
  private _data: RequestBody | undefined;
  private _errors: RequestErrors | undefined;
  private _abort: AbortController | undefined;
  private drainWaiter: (() => void) | undefined;
  aborted = false;
  replyStarted = false;
  /** The reply is complete (or abandoned): no more events concern the app. */
  finished = false;
  /** The reply's status once sent; body bytes and arrival time (performance.now()) when serve() tracks them. */
  status = 0;
  bytes = 0;
  startedAt = 0;

  constructor(readonly handle: number, private readonly native: BodyFlow) {}

  abstract get flags(): number;
  /** The body's exact length when its framing states it (LENGTH_KNOWN), else -1. */
  protected abstract get bodyLength(): number;
  abstract get REQUEST_METHOD(): string;
  abstract get REQUEST_URI(): string;
  /** A line in the server's log. */
  protected abstract logLine(line: string): void;

  get body(): Body {
    this._body ??= new RequestBody(this, (this.flags & F_NO_BODY) !== 0, this.bodyLength);
    return this._body;
  }

  /** The body, only if the app touched it (body events flow only then). */
  get bodyIfUsed(): RequestBody | undefined {
    return this._body;
  }

  /** FastCGI FILTER: the DATA stream; undefined for every other request. */
  get data(): Body | undefined {
    if (!(this.flags & F_FILTER)) return undefined;
    this._data ??= new RequestBody(new DataControl(this), false);
    return this._data;
  }

  get dataIfUsed(): RequestBody | undefined {
    return this._data;
  }

  flowData(on: boolean): void {
    this.native.readData(this.handle, on);
  }

  get errors(): ErrorStream {
    this._errors ??= new RequestErrors(this);
    return this._errors;
  }

  writeError(chunk: string | Uint8Array): boolean {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
      throw new TypeError('errors.write() takes a string or a Uint8Array');
    }
    const rc = this.finished ? GONE : this.native.writeStderr(this.handle, chunk);
    if (rc === GONE) {
      // Not FastCGI, or the request is over: the operator's log has it.
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      this.logLine(`app stderr on ${this.REQUEST_METHOD} ${this.REQUEST_URI}: ${text.replace(/\n$/, '')}`);
      return true;
    }
    return rc !== FULL;
  }

  /** Fires when the client goes away before the reply is complete. */
  get signal(): AbortSignal {
    if (this._abort === undefined) {
      this._abort = new AbortController();
      if (this.aborted) this._abort.abort();
    }
    return this._abort.signal;
  }

  /** BodyControl: the core writes a body of unknown length read whole into a Buffer it grows. */
  get grows(): boolean {
    return true;
  }

  /** BodyControl: the body reader asks the core to deliver or hold bytes. */
  flow(on: boolean, into?: Uint8Array, limit?: number): void {
    this.native.readBody(this.handle, on, into, limit);
  }

  /** BodyControl: the core writes the body's next bytes into `into`. */
  fill(into: Uint8Array): void {
    this.native.readInto(this.handle, into);
  }

  /** The client left (or the server is stopping): fire the signal, fail the body. */
  abort(err: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this._abort?.abort(err);
    this._body?.fail(err);
    this._data?.fail(err);
    this.drained();
  }

  waitDrain(): Promise<void> {
    return new Promise((resolve) => { this.drainWaiter = resolve; });
  }

  drained(): void {
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.();
  }
}
