// What every request kind shares with the server: its handle, the body the
// app may read, the abort signal, and the reply's progress. HttpRequest and
// CgiRequest add how the variables are read from their records.
import type { Body } from '../tsgi/types.js';
import { F_NO_BODY } from './flags.js';
import { RequestBody, type BodyControl } from './body.js';

export interface BodyFlow {
  readBody(handle: number, flowing: boolean): number;
}

export abstract class BaseRequest implements BodyControl {
  private _body: RequestBody | undefined;
  private _abort: AbortController | undefined;
  private drainWaiter: (() => void) | undefined;
  aborted = false;
  replyStarted = false;
  /** The reply is complete (or abandoned): no more events concern the app. */
  finished = false;

  constructor(readonly handle: number, private readonly native: BodyFlow) {}

  abstract get flags(): number;

  get body(): Body {
    this._body ??= new RequestBody(this, (this.flags & F_NO_BODY) !== 0);
    return this._body;
  }

  /** The body, only if the app touched it (body events flow only then). */
  get bodyIfUsed(): RequestBody | undefined {
    return this._body;
  }

  /** Fires when the client goes away before the reply is complete. */
  get signal(): AbortSignal {
    if (this._abort === undefined) {
      this._abort = new AbortController();
      if (this.aborted) this._abort.abort();
    }
    return this._abort.signal;
  }

  /** BodyControl: the body reader asks the core to deliver or hold bytes. */
  flow(on: boolean): void {
    this.native.readBody(this.handle, on);
  }

  /** The client left (or the server is stopping): fire the signal, fail the body. */
  abort(err: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this._abort?.abort(err);
    this._body?.fail(err);
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
