// Sealed reply bodies: bytes an app replies with many times (a rendered page,
// an image, a bundle), copied once into memory that nothing can change
// (native/net/sealed.h: a sealed memfd on Linux, an unlinked read-only file
// elsewhere) and sent from there as a file is, with sendfile. A 1 MiB Buffer
// reply costs the kernel a copy from user memory each time; a sealed one
// goes from the page cache, as nginx sends a static file.
//
// Why sealed and not the app's Buffer: memory the kernel sends from without
// copying must not change until the peer has read it, and nothing tells a
// sender when that is (on loopback, not before the receiving process reads).
// A Buffer can always be written; sealed bytes cannot, by anyone.
import * as fs from 'node:fs';
import { TsgiError } from '../errors.js';
import type { SealedBody } from '../tsgi/types.js';

// A sealed body the app dropped without close(): its descriptor goes with it.
const collected = new FinalizationRegistry<number>((fd) => fs.close(fd, () => {}));

const STEP = 64 * 1024;

export class Sealed implements SealedBody {
  readonly byteLength: number;
  #fd: number;
  #uses = 0;
  #closing = false;

  constructor(bytes: Uint8Array | string, tmpdir?: string) {
    const u = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    if (!(u instanceof Uint8Array)) throw new TypeError('seal() takes a Uint8Array or a string');
    this.byteLength = u.byteLength;
    // Loaded here, not on import: `tsgi --cgi` meets sealed bodies without the addon.
    const { binding } = require('../native/load.js') as typeof import('../native/load.js');
    this.#fd = binding.sealBytes(u, tmpdir ?? '');
    collected.register(this, this.#fd, this);
  }

  get [Symbol.toStringTag](): string {
    return 'SealedBody';
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    collected.unregister(this);
    if (this.#uses === 0) this.#release();
  }

  /**
   * Throws the app error a reply with this body would be, before any of its
   * head is sent: the body was closed, or the app stated a Content-Length
   * (`stated`, -1 for none) other than the body's.
   */
  check(stated: number): void {
    if (this.#closing) throw new TsgiError('TSGI_ERR_REPLY_FILE', 'the sealed body was closed');
    if (stated >= 0 && stated !== this.byteLength) {
      throw new TsgiError('TSGI_ERR_REPLY_FILE', `Content-Length ${stated} but the sealed body is ${this.byteLength} bytes`);
    }
  }

  /** The descriptor, for one reply: kept open until the matching done(). */
  take(): number {
    this.check(-1);
    this.#uses++;
    return this.#fd;
  }

  done(): void {
    if (--this.#uses === 0 && this.#closing) this.#release();
  }

  /**
   * The bytes as chunks of at most 64 KiB, for a path that needs them in
   * JavaScript (FastCGI records, a node:http host). Each chunk is fresh:
   * whoever takes it may keep it.
   */
  async *chunks(): AsyncGenerator<Buffer> {
    const fd = this.take();
    try {
      for (let pos = 0; pos < this.byteLength;) {
        const want = Math.min(STEP, this.byteLength - pos);
        const buf = Buffer.allocUnsafe(want);
        const bytesRead = await readAt(fd, buf, want, pos);
        if (bytesRead === 0) throw new TsgiError('TSGI_ERR_REPLY_FILE', 'the sealed body ended early');
        pos += bytesRead;
        yield bytesRead === want ? buf : buf.subarray(0, bytesRead);
      }
    } finally {
      this.done();
    }
  }

  #release(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    fs.close(fd, () => {});
  }
}

/** pread(2) through libuv's pool: how many bytes came. */
function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/**
 * Seals `bytes` (a string as UTF-8) for replies: `{ body: seal(page) }` sends
 * them with sendfile over HTTP, uwsgi and SCGI, and streams them over
 * FastCGI, each time with Content-Length. The bytes are copied now; the
 * original may change or go. Each sealed body holds a descriptor and its
 * bytes in the page cache (shared memory on Linux) until close().
 * `tmpdir`: where the fallback file is made where memfd sealing is not
 * there (macOS); $TMPDIR or /tmp by default.
 */
export function seal(bytes: Uint8Array | string, options: { tmpdir?: string } = {}): SealedBody {
  return new Sealed(bytes, options.tmpdir);
}

export function isSealed(body: unknown): body is Sealed {
  return body instanceof Sealed;
}
