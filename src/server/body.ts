// The request body as TSGI's Body: bytes arrive from the core as events, the
// app pulls them. Nothing flows until the app first reads (so an unread body
// costs nothing and 100-continue goes out only when wanted); above a high
// water mark the core stops reading the socket until the app catches up.
// A body of known length read whole (bytes(), text(), json()) goes into one
// Buffer of that length, which the core fills from the socket's bytes (over
// HTTP, uwsgi and SCGI it reads the socket into it): no join. One of unknown
// length (chunked, FastCGI STDIN without CONTENT_LENGTH) read whole goes into
// a first Buffer of FIRST_WHOLE bytes that the core regrows, doubling, up to
// the reader's limit, copying each decoded piece once. Iterated, a body comes
// as it arrives. read(into) puts the next bytes in the app's own memory: the
// core reads the socket straight into it when nothing is buffered, so an app
// that reuses one Buffer reads any body with one copy, into memory the
// cache already holds, and allocates nothing.
import { TsgiError } from '../errors.js';
import type { Body } from '../tsgi/types.js';

const HIGH_WATER = 64 * 1024;
const LOW_WATER = 16 * 1024;
const DEFAULT_LIMIT = 1024 * 1024;
// The first Buffer of a body of unknown length read whole: what an iterated
// body may queue (HIGH_WATER), so a slow client holds no more than before.
// Each regrowth is an allocation and a copy of what came: starting at 16 KiB,
// a chunked 64 KiB POST took 35.9 µs of server CPU, starting here 26.9 (1 KiB
// POSTs: no difference measured). The app's bytes() may be a view of it, as
// an iterated body's chunks are views of the batch.
const FIRST_WHOLE = 64 * 1024;

export interface BodyControl {
  /**
   * Ask the core to deliver body bytes (true) or to stop reading (false);
   * with `into`, to write the whole body into it and say how much at the end;
   * with `limit` too (when `grows`), into a Buffer the core regrows up to it.
   */
  flow(on: boolean, into?: Uint8Array, limit?: number): void;
  /** Whether the core can read a body of unknown length whole (flow's `limit`). */
  readonly grows?: boolean;
  /**
   * Write the body's next bytes into `into` and say how many with filled(),
   * or end(count); the body is paused again after each. Without it, read()
   * copies from the pieces flow() delivers.
   */
  fill?(into: Uint8Array): void;
}

export class RequestBody implements Body {
  private chunks: Uint8Array[] = [];
  private queued = 0;
  private ended: boolean;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private started = false;
  private flowing = false;
  private filled = 0;
  private grown: Uint8Array | undefined;
  private limit = 0;
  // read(into): the body is read this way (then `started` too); a read is in
  // progress; what the core said it wrote into the reader's memory (-1:
  // nothing yet).
  private byob = false;
  private reading = false;
  private got = -1;

  /** `length`: the body's exact length when the framing states it, else -1. */
  constructor(private readonly control: BodyControl, empty: boolean, private readonly length = -1) {
    this.ended = empty;
  }

  get done(): boolean {
    return this.ended && this.chunks.length === 0;
  }

  /** From the core: bytes of the body. */
  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.queued += chunk.byteLength;
    if (this.flowing && this.queued > HIGH_WATER) {
      this.flowing = false;
      this.control.flow(false);
    }
    this.notify();
  }

  /**
   * From the core: the body is complete; `filled`, the bytes written into a
   * whole read's Buffer; `grown`, that Buffer when the core regrew it.
   */
  end(filled = 0, grown?: Uint8Array): void {
    if (this.byob) {
      if (this.reading && this.got < 0) this.got = filled;
      this.ended = true;
      this.notify();
      return;
    }
    this.filled = filled;
    this.grown = grown;
    this.ended = true;
    this.notify();
  }

  /** From the core: read(into)'s memory took `n` bytes; the body is paused. */
  filledBy(n: number): void {
    if (this.reading && this.got < 0) this.got = n;
    this.notify();
  }

  /**
   * From the core: a body of unknown length read whole passed the reader's
   * limit. The core drops what more comes (the server's limit still bounds
   * it), so a reply sent next keeps the connection as after any unread body.
   */
  overLimit(): void {
    this.fail(new TsgiError('TSGI_ERR_BODY_TOO_LARGE', `more than ${this.limit} bytes`));
  }

  /** From the core or the server: the body cannot complete. */
  fail(err: Error): void {
    if (this.ended && this.chunks.length === 0) return;
    this.error ??= err;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Until the core's next word on this body (notify()). */
  private woken(): Promise<void> {
    return new Promise<void>((resolve) => { this.wake = resolve; });
  }

  private start(): void {
    if (this.started) throw new TsgiError('TSGI_ERR_BODY_CONSUMED');
    this.started = true;
    if (!this.ended) {
      this.flowing = true;
      this.control.flow(true);
    }
  }

  /** Whether the body can be read whole into one Buffer of at most `limit` bytes. */
  private sized(limit: number): boolean {
    return !this.started && !this.ended && this.length > 0 && this.length <= limit;
  }

  /** Whether a body of unknown length can be read whole into Buffers the core grows. */
  private growable(limit: number): boolean {
    return !this.started && !this.ended && this.length < 0 && limit >= 0 && this.control.grows === true;
  }

  /**
   * The whole body, written by the core into one Buffer: of its stated
   * length, or with `limit`, a first one it regrows up to the limit.
   */
  private async whole(limit?: number): Promise<Uint8Array> {
    this.started = true;
    const into = Buffer.allocUnsafe(limit === undefined ? this.length : Math.min(limit, FIRST_WHOLE));
    this.flowing = true;
    if (limit === undefined) {
      this.control.flow(true, into);
    } else {
      this.limit = limit;
      this.control.flow(true, into, limit);
    }
    while (!this.ended && this.error === undefined) {
      await this.woken();
    }
    // An error first: past the limit, the body may still end in the same batch.
    if (this.error !== undefined) throw this.error;
    const body = this.grown ?? into;
    const bytes = this.filled === body.byteLength ? body : body.subarray(0, this.filled);
    this.grown = undefined;
    return bytes;
  }

  private async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const chunk = this.chunks.shift();
      if (chunk !== undefined) {
        this.queued -= chunk.byteLength;
        if (!this.flowing && !this.ended && this.queued < LOW_WATER) {
          this.flowing = true;
          this.control.flow(true);
        }
        return chunk;
      }
      if (this.error) throw this.error;
      if (this.ended) return undefined;
      await this.woken();
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    this.start();
    for (;;) {
      const chunk = await this.next();
      if (chunk === undefined) return;
      yield chunk;
    }
  }

  /**
   * The body's next bytes, written into `into` from its start: how many, as
   * soon as some came (not only once it is full), or 0 at the body's end.
   */
  async read(into: Uint8Array): Promise<number> {
    if (!(into instanceof Uint8Array)) throw new TypeError('read(into): into must be a Uint8Array');
    if (into.byteLength === 0) throw new RangeError('read(into): into is empty');
    if (this.reading) throw new TsgiError('TSGI_ERR_BODY_CONSUMED', 'a read is already in progress');
    if (this.started && !this.byob) throw new TsgiError('TSGI_ERR_BODY_CONSUMED');
    this.started = true;
    this.byob = true;
    this.reading = true;
    try {
      for (;;) {
        // Bytes here already (what came past an earlier read's memory) first.
        if (this.chunks.length > 0) return this.copyQueued(into);
        if (this.error !== undefined) throw this.error;
        if (this.ended) return 0;
        if (this.control.fill === undefined) {
          // Pieces as flow() delivers them, copied in; HIGH_WATER bounds the queue.
          if (!this.flowing) {
            this.flowing = true;
            this.control.flow(true);
          }
          await this.woken();
          continue;
        }
        this.got = -1;
        this.control.fill(into);
        while (this.got < 0 && this.error === undefined && !this.ended) {
          await this.woken();
        }
        const n = this.got;
        this.got = -1;
        if (n > 0) return n;
        // Nothing written: the body ended (or failed) first, or what came
        // is queued as pieces. The loop says which.
      }
    } finally {
      this.reading = false;
    }
  }

  /** read(into) from the queued pieces: as many bytes as fit, a piece's rest kept for the next read. */
  private copyQueued(into: Uint8Array): number {
    let n = 0;
    while (n < into.byteLength && this.chunks.length > 0) {
      const chunk = this.chunks[0]!;
      const take = Math.min(chunk.byteLength, into.byteLength - n);
      into.set(take === chunk.byteLength ? chunk : chunk.subarray(0, take), n);
      n += take;
      this.queued -= take;
      if (take === chunk.byteLength) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    return n;
  }

  async bytes(limit = DEFAULT_LIMIT): Promise<Uint8Array> {
    if (this.sized(limit)) return this.whole();
    if (this.growable(limit)) return this.whole(limit);
    if (!this.started && this.length > limit) {
      this.started = true;
      throw new TsgiError('TSGI_ERR_BODY_TOO_LARGE', `more than ${limit} bytes`);
    }
    this.start();
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const chunk = await this.next();
      if (chunk === undefined) break;
      total += chunk.byteLength;
      if (total > limit) {
        throw new TsgiError('TSGI_ERR_BODY_TOO_LARGE', `more than ${limit} bytes`);
      }
      parts.push(chunk);
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  }

  async text(limit = DEFAULT_LIMIT): Promise<string> {
    const bytes = await this.bytes(limit);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }

  async json<T = unknown>(limit = DEFAULT_LIMIT): Promise<T> {
    const text = await this.text(limit);
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new TsgiError('TSGI_ERR_BODY_INVALID', 'not JSON', { cause: err });
    }
  }
}
