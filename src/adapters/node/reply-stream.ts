import type { Chunk } from '../../tsgi/types.js';
import { CHUNKS_KEPT } from '../../server/chunks-kept.js';
import type { Exchange } from './exchange.js';
import type { Callback } from './shapes.js';

/** Writes above this many queued bytes return false (Node 22's default high-water mark). */
export const HIGH_WATER = 64 * 1024;
const DONE: IteratorResult<Chunk> = Object.freeze({ value: undefined, done: true });

/**
 * The streamed body as serve() pulls it. Written chunks (and their
 * callbacks, alternating) wait in a queue until the server asks for the next
 * one, which it does once the client took the previous ones.
 */
export class ReplyStream implements AsyncIterableIterator<Chunk> {
  /** res.write()'s chunks are not changed once written, as Node's streams assume. */
  readonly [CHUNKS_KEPT] = true;
  private readonly queue: Array<Chunk | Callback | undefined> = [];
  queued = 0;
  private ended = false;
  private needDrain = false;
  private pulled = false;
  private failure: Error | undefined = undefined;
  private waiter: ((r: IteratorResult<Chunk>) => void) | undefined = undefined;
  private waitFail: ((e: unknown) => void) | undefined = undefined;

  constructor(private readonly x: Exchange) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** From res.write(): false once the queue is over the high-water mark. */
  push(data: Chunk, cb: Callback | undefined): boolean {
    // An empty chunk only matters first: it makes the head go out.
    if (data.length === 0 && (this.pulled || this.queue.length > 0)) {
      if (cb !== undefined) process.nextTick(cb);
      return !this.needDrain;
    }
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = this.waitFail = undefined;
      this.pulled = true;
      if (cb !== undefined) process.nextTick(cb);
      waiter({ value: data, done: false });
      return true;
    }
    this.queue.push(data, cb);
    this.queued += data.length;
    if (this.queued < HIGH_WATER) return true;
    this.needDrain = true;
    return false;
  }

  end(): void {
    this.ended = true;
    if (this.waiter !== undefined) this.next();
  }

  /** No more: the client left (err undefined) or the app destroyed the response (the server cuts it). */
  stop(err: Error | undefined): void {
    this.failure = err;
    this.ended = true;
    const waiter = this.waiter, fail = this.waitFail;
    this.waiter = this.waitFail = undefined;
    if (err !== undefined) fail?.(err);
    else waiter?.(DONE);
  }

  /** The server wants the next chunk: the previous one is with the core. */
  next(): Promise<IteratorResult<Chunk>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const q = this.queue;
    if (q.length > 0) {
      const data = q.shift() as Chunk;
      const cb = q.shift() as Callback | undefined;
      this.queued -= data.length;
      this.pulled = true;
      if (cb !== undefined) process.nextTick(cb);
      if (q.length === 0 && this.needDrain) {
        this.needDrain = false;
        this.x.res.emit('drain');
      }
      return Promise.resolve({ value: data, done: false });
    }
    if (this.ended) {
      const waiter = this.waiter;
      this.waiter = this.waitFail = undefined;
      waiter?.(DONE);
      process.nextTick(emitFinish, this.x);
      return Promise.resolve(DONE);
    }
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.waitFail = reject;
    });
  }

  return(): Promise<IteratorResult<Chunk>> {
    this.x.stopped();
    return Promise.resolve(DONE);
  }
}

export function emitFinish(x: Exchange): void {
  x.finished();
}
