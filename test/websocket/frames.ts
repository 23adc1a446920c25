// WebSocket frames for the tests of test/websocket: client frames built
// masked (RFC 6455 5.2, 5.3) with every field overridable, the frames a
// server should send built unmasked so whole replies compare byte for byte,
// a strict reader of what a server sent, and a raw client that opens the
// handshake over node:net and keeps every byte after the 101.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { delay, RawConnection } from '../helpers/index.js';

export const CONT = 0x0, TEXT = 0x1, BINARY = 0x2, CLOSE = 0x8, PING = 0x9, PONG = 0xa;

export interface FrameOpts {
  fin?: boolean;
  /** RSV1-3 as a 3-bit number (4: RSV1). */
  rsv?: number;
  /** The mask key; null sends the frame unmasked. */
  mask?: readonly number[] | null;
  /** Force the 16- or 64-bit length form. */
  lengthForm?: 16 | 64;
  /** The length field's value, if not the payload's length. */
  length?: bigint;
}

const KEY = [0x5a, 0x13, 0xc7, 0x2e];

function head(opcode: number, len: bigint, o: FrameOpts, mask: readonly number[] | null): Buffer {
  const bytes = [((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode];
  const m = mask ? 0x80 : 0;
  if (o.lengthForm === undefined && len <= 125n) {
    bytes.push(m | Number(len));
  } else if (o.lengthForm === 16 || (o.lengthForm === undefined && len <= 0xffffn)) {
    bytes.push(m | 126, Number(len >> 8n) & 0xff, Number(len & 0xffn));
  } else {
    bytes.push(m | 127);
    for (let i = 7; i >= 0; i--) bytes.push(Number((len >> BigInt(8 * i)) & 0xffn));
  }
  if (mask) bytes.push(...mask);
  return Buffer.from(bytes);
}

/** A client frame: masked (with a fixed key unless told) and FIN unless told. */
export function frame(opcode: number, payload: string | Uint8Array = '', o: FrameOpts = {}): Buffer {
  const body = Buffer.from(payload);
  const mask = o.mask === undefined ? KEY : o.mask;
  if (mask) for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3]!;
  return Buffer.concat([head(opcode, o.length ?? BigInt(body.length), o, mask), body]);
}

/** What a server sends: unmasked, the minimal length form (RFC 6455 5.2). */
export function serverFrame(opcode: number, payload: string | Uint8Array = '', fin = true): Buffer {
  const body = Buffer.from(payload);
  return Buffer.concat([head(opcode, BigInt(body.length), { fin }, null), body]);
}

/** A close frame's body: the code (none when undefined) and the reason. */
export function closeBody(code?: number, reason: string | Uint8Array = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
}

export const text = (s: string | Uint8Array, o?: FrameOpts): Buffer => frame(TEXT, s, o);
export const binary = (b: string | Uint8Array, o?: FrameOpts): Buffer => frame(BINARY, b, o);
export const ping = (b: string | Uint8Array = '', o?: FrameOpts): Buffer => frame(PING, b, o);
export const pong = (b: string | Uint8Array = '', o?: FrameOpts): Buffer => frame(PONG, b, o);
export const close = (code?: number, reason?: string | Uint8Array, o?: FrameOpts): Buffer =>
  frame(CLOSE, closeBody(code, reason), o);

/** The server's close frame for `code` and `reason`. */
export const serverClose = (code?: number, reason?: string): Buffer => serverFrame(CLOSE, closeBody(code, reason));

export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Buffer;
}

/**
 * Splits what a server sent into frames. Strict: a masked frame, a length
 * not in its minimal form or a reserved bit throws. `rest` is an incomplete
 * last frame.
 */
export function parseFrames(data: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let at = 0;
  for (;;) {
    if (data.length - at < 2) break;
    const b0 = data[at]!, b1 = data[at + 1]!;
    if (b1 & 0x80) throw new Error(`a masked frame from the server at byte ${at}`);
    let len = b1 & 0x7f;
    let p = at + 2;
    if (len === 126) {
      if (data.length < p + 2) break;
      len = data.readUInt16BE(p);
      if (len < 126) throw new Error(`a 16-bit length ${len} at byte ${at}`);
      p += 2;
    } else if (len === 127) {
      if (data.length < p + 8) break;
      const big = data.readBigUInt64BE(p);
      if (big <= 0xffffn) throw new Error(`a 64-bit length ${big} at byte ${at}`);
      len = Number(big);
      p += 8;
    }
    if (data.length < p + len) break;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0xf, payload: data.subarray(p, p + len) });
    at = p + len;
  }
  return { frames, rest: data.subarray(at) };
}

/** "text 'abc'", "close 1002 'reason'": for assertion messages. */
export function describeFrames(data: Buffer): string {
  const { frames, rest } = parseFrames(data);
  const names: Record<number, string> = { 0: 'cont', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
  const out = frames.map((f) => {
    const name = names[f.opcode] ?? `op${f.opcode}`;
    const fin = f.fin ? '' : ' (no FIN)';
    if (f.opcode === CLOSE && f.payload.length >= 2) {
      return `close ${f.payload.readUInt16BE(0)} ${JSON.stringify(f.payload.toString('utf8', 2))}${fin}`;
    }
    const shown = f.payload.length > 40 ? `${f.payload.length} bytes` : JSON.stringify(f.payload.toString('latin1'));
    return `${name} ${shown}${fin}`;
  });
  if (rest.length) out.push(`+${rest.length} bytes of an incomplete frame`);
  return out.join(', ') || '(nothing)';
}

export const acceptFor = (key: string): string =>
  createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');

export const KEY_SAMPLE = 'dGhlIHNhbXBsZSBub25jZQ==';  // RFC 6455 1.3

/** An opening handshake; `headers` replaces the WebSocket fields when given. */
export function handshake(opts: { path?: string; key?: string; headers?: readonly string[]; extra?: readonly string[] } = {}): string {
  const fields = opts.headers ?? [
    'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${opts.key ?? KEY_SAMPLE}`,
    'Sec-WebSocket-Version: 13',
  ];
  return [`GET ${opts.path ?? '/'} HTTP/1.1`, 'Host: 127.0.0.1', ...fields, ...(opts.extra ?? []), '', ''].join('\r\n');
}

/**
 * A client on a raw socket after a 101: `frames` is everything the server
 * sent after the 101's head, checked byte for byte by the tests.
 */
export class RawWs {
  private constructor(readonly conn: RawConnection, readonly head: string, private readonly start: number) {}

  /** Connects, sends the handshake and waits for the 101 (throws on anything else). */
  static async open(port: number | string, opts: { path?: string; extra?: readonly string[]; key?: string } = {}): Promise<RawWs> {
    const conn = await RawConnection.open(port);
    try {
      await conn.write(handshake(opts));
      await conn.waitUntil(() => conn.data.includes('\r\n\r\n') || conn.closed, 5000, 'the 101');
      const end = conn.data.indexOf('\r\n\r\n');
      assert.ok(end > 0, `no reply head: ${JSON.stringify(conn.data.toString('latin1', 0, 300))}`);
      const head = conn.data.toString('latin1', 0, end + 4);
      assert.match(head, /^HTTP\/1\.1 101 /, head);
      assert.ok(head.includes(`\r\nSec-WebSocket-Accept: ${acceptFor(opts.key ?? KEY_SAMPLE)}\r\n`), head);
      return new RawWs(conn, head, end + 4);
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  /** The bytes after the 101. */
  get bytes(): Buffer {
    return this.conn.data.subarray(this.start);
  }

  get frames(): Frame[] {
    return parseFrames(this.bytes).frames;
  }

  get closed(): boolean {
    return this.conn.closed;
  }

  send(data: string | Buffer): Promise<void> {
    return this.conn.write(data);
  }

  /**
   * Writes the pieces in turn, `gapMs` apart, so the server reads them apart
   * (most likely). Stops quietly once the server closed: a case that fails
   * the connection early may leave pieces unsent.
   */
  async sendPieces(pieces: readonly Buffer[], gapMs = 1): Promise<void> {
    for (let i = 0; i < pieces.length && !this.closed; i++) {
      if (i > 0 && gapMs > 0) await delay(gapMs);
      try {
        await this.conn.write(pieces[i]!);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EPIPE' && code !== 'ECONNRESET' && code !== 'ERR_STREAM_DESTROYED' && !this.closed) throw err;
        return;
      }
    }
  }

  /** Waits for `count` whole frames after the 101. */
  async waitFrames(count: number, ms = 5000): Promise<Frame[]> {
    await this.conn.waitUntil(() => this.frames.length >= count || this.closed, ms, `${count} frames`);
    const got = this.frames;
    if (got.length < count) {
      throw new Error(`closed after ${got.length} of ${count} frames: ${describeFrames(this.bytes)}`);
    }
    return got;
  }

  /** Waits for the server to close the TCP connection; false if not within `ms`. */
  waitClosed(ms = 5000): Promise<boolean> {
    return this.conn.waitClosed(ms);
  }

  /**
   * Waits for the server to close the connection and checks that it sent
   * exactly `expected` (the concatenated frames) after the 101.
   */
  async expectEnd(expected: readonly Buffer[], what = 'the reply', ms = 5000): Promise<void> {
    const closed = await this.waitClosed(ms);
    const want = Buffer.concat(expected);
    assert.equal(describeFrames(this.bytes), describeFrames(want), what);
    assert.ok(this.bytes.equals(want), `${what}: the same frames, not the same bytes`);
    assert.ok(closed, `${what}: the server did not close the TCP connection`);
  }

  destroy(): void {
    this.conn.destroy();
  }
}

/** `buf` cut at each offset in `at` (sorted). */
export function splitAt(buf: Buffer, at: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const i of at) {
    out.push(buf.subarray(from, i));
    from = i;
  }
  out.push(buf.subarray(from));
  return out.filter((b) => b.length > 0);
}

/** `buf` in pieces of `size` bytes. */
export function chunks(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}
