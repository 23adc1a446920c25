// The access log: one line per request, in the combined format of Apache and
// nginx or as JSON, written off the event loop. Lines are queued in memory
// and written by fs.write (libuv's thread pool), one write in flight at a
// time. The queue is bounded: when the disk cannot keep up, new lines are
// dropped and counted (one log line says how many), so a slow disk costs log
// lines, never memory or request latency. reopen() (SIGUSR1) opens the path
// again after the current write, for logrotate's rename-then-signal.
import * as fs from 'node:fs';
import type { Request } from '../tsgi/types.js';

export type AccessLogFormat = 'combined' | 'json';

/** What serve() reports when a request is over (its onRequestDone hook). */
export interface RequestDone {
  /** The status sent (504 harakiri, 500 app error), or 499 when the client left before any reply. */
  readonly status: number;
  /** Body bytes handed to the core (0 for HEAD and for a reply cut before its body). */
  readonly bytes: number;
  /** From the request's arrival in JS to its reply's end, in milliseconds. */
  readonly durationMs: number;
  /** When the request arrived, milliseconds since the epoch. */
  readonly startedAt: number;
}

export interface AccessLogOptions {
  /** A file (opened for appending, created if needed) or "-" for stdout. */
  path: string;
  format?: AccessLogFormat;
  /** The worker's slot number under a master; 0 for a single process. */
  workerId?: number;
  /** Queued bytes at most before lines are dropped. Default 1 MiB. */
  maxBuffer?: number;
  /** Where the writer's own problems go. Default: stderr. */
  log?: (line: string) => void;
}

/** PIPE_BUF: a pipe write of at most this many bytes is not interleaved with another process's. */
const PIPE_ATOMIC = 4096;
const FILE_WRITE_MAX = 64 * 1024;
/**
 * Lines wait at most this long (or until FLUSH_BYTES are queued) before a
 * write: under load one write carries hundreds of lines instead of a
 * thread-pool round trip per loop turn.
 */
const FLUSH_MS = 20;
const FLUSH_BYTES = 16 * 1024;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** nginx's escaping for quoted fields: ", \ and bytes outside printable ASCII as \xHH. */
function esc(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /["\\\x00-\x1f\x7f-\uffff]/.test(s)
    ? s.replace(/["\\\x00-\x1f\x7f-\uffff]/g, (c) => {
      const code = c.charCodeAt(0);
      return code > 0xff ? c : `\\x${code.toString(16).padStart(2, '0')}`;
    })
    : s;
}

/**
 * Request fields are latin1 views of the bytes as sent; JSON lines carry
 * text, so bytes above 0x7f are read as UTF-8 (what a client sends in a raw
 * URI or a header), as nginx's escape=json passes them through.
 */
function text(s: string): string {
  return JSON.stringify(/[^\x00-\x7f]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s);
}

export class AccessLog {
  readonly path: string;
  readonly format: AccessLogFormat;
  /** Lines dropped because the queue was full, since start. */
  dropped = 0;
  /** Lines written, since start. */
  written = 0;
  private fd: number;
  private readonly pipe: boolean;
  private readonly workerId: number;
  private readonly maxBuffer: number;
  private readonly log: (line: string) => void;
  private queue: string[] = [];
  private queued = 0;
  private writing = false;
  private scheduled: false | 'soon' | 'later' = false;
  private timer: NodeJS.Timeout | undefined;
  private reopenAsked = false;
  private droppedUnreported = 0;
  private closed = false;
  private idle: Array<() => void> = [];
  // The combined format's time field changes once a second.
  private clfSecond = -1;
  private clfTime = '';
  private isoSecond = -1;
  private isoPrefix = '';

  constructor(opts: AccessLogOptions) {
    this.path = opts.path;
    this.format = opts.format ?? 'combined';
    this.workerId = opts.workerId ?? 0;
    this.maxBuffer = opts.maxBuffer ?? 1024 * 1024;
    this.log = opts.log ?? ((line) => process.stderr.write(`tsgi: ${line}\n`));
    // Opened synchronously, once, at start: a path that cannot be opened is
    // a start-up error, not a request-time one.
    this.fd = this.path === '-' ? 1 : fs.openSync(this.path, 'a', 0o640);
    const st = fs.fstatSync(this.fd);
    this.pipe = st.isFIFO() || st.isSocket();
  }

  /** serve()'s onRequestDone hook. */
  readonly hook = (req: Request, done: RequestDone): void => {
    this.write(this.format === 'json' ? this.json(req, done) : this.combined(req, done));
  };

  private combined(req: Request, d: RequestDone): string {
    const sec = Math.floor(d.startedAt / 1000);
    if (sec !== this.clfSecond) {
      const t = new Date(sec * 1000);
      this.clfSecond = sec;
      this.clfTime = `${pad(t.getUTCDate())}/${MONTHS[t.getUTCMonth()]}/${t.getUTCFullYear()}:` +
        `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())} +0000`;
    }
    const referer = req.header('referer');
    const ua = req.header('user-agent');
    return `${req.REMOTE_ADDR || '-'} - - [${this.clfTime}] "${esc(req.REQUEST_METHOD)} ${esc(req.REQUEST_URI)} ` +
      `${esc(req.SERVER_PROTOCOL)}" ${d.status} ${d.bytes} "${referer === undefined ? '-' : esc(referer)}" ` +
      `"${ua === undefined ? '-' : esc(ua)}"\n`;
  }

  private json(req: Request, d: RequestDone): string {
    // Written out by hand: JSON.stringify of an object and Date's
    // toISOString cost several times more per line (bench/RESULTS.md).
    const sec = Math.floor(d.startedAt / 1000);
    if (sec !== this.isoSecond) {
      this.isoSecond = sec;
      this.isoPrefix = new Date(sec * 1000).toISOString().slice(0, 20);  // "2026-12-02T13:13:47."
    }
    const ms = Math.floor(d.startedAt) - sec * 1000;
    const ua = req.header('user-agent');
    const referer = req.header('referer');
    return `{"ts":"${this.isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z","method":${JSON.stringify(req.REQUEST_METHOD)},` +
      `"uri":${text(req.REQUEST_URI)},"status":${d.status},"bytes":${d.bytes},` +
      `"duration_ms":${Math.round(d.durationMs * 1000) / 1000},"remote":${JSON.stringify(req.REMOTE_ADDR)},` +
      `"protocol":${JSON.stringify(req.SERVER_PROTOCOL)},"listener":"${req.tsgi.protocol}","worker":${this.workerId},` +
      `"pid":${process.pid},"user_agent":${ua === undefined ? 'null' : text(ua)},` +
      `"referer":${referer === undefined ? 'null' : text(referer)}}\n`;
  }

  /** Queues one line (ending in "\n"); drops it when the queue is full. */
  write(line: string): void {
    if (this.closed) return;
    if (this.queued + line.length > this.maxBuffer) {
      this.dropped++;
      this.droppedUnreported++;
      return;
    }
    this.queue.push(line);
    this.queued += line.length;
    if (!this.writing) this.schedule();
  }

  /** Opens the path again after the write in flight (logrotate renamed the file). */
  reopen(): void {
    if (this.path === '-' || this.closed) return;
    this.reopenAsked = true;
    if (this.writing) return;  // reopened when the write in flight completes
    if (this.queue.length === 0) return this.doReopen();
    // Lines queued before the signal go to the old file first.
    this.scheduled = 'soon';
    this.flush();
  }

  /** Resolves when everything queued has been written. */
  flushed(): Promise<void> {
    if (!this.writing && !this.scheduled && this.queue.length === 0 && !this.reopenAsked) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Writes what is queued, then closes the file. */
  async close(): Promise<void> {
    await this.flushed();
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== 1) fs.closeSync(this.fd);
  }

  private doReopen(): void {
    this.reopenAsked = false;
    this.writing = true;
    fs.open(this.path, 'a', 0o640, (err, fd) => {
      this.writing = false;
      if (err) {
        this.log(`access log: cannot reopen ${this.path} (${err.code ?? err.message}); still writing to the old file`);
      } else {
        const old = this.fd;
        this.fd = fd;
        fs.close(old, () => {});
      }
      this.next();
    });
  }

  /** A write soon: at once when a write's worth is queued, else after FLUSH_MS. */
  private schedule(): void {
    if (this.queued >= FLUSH_BYTES) {
      if (this.scheduled === 'soon') return;
      clearTimeout(this.timer);
      this.scheduled = 'soon';
      setImmediate(this.flush);
    } else if (this.scheduled === false) {
      this.scheduled = 'later';
      this.timer = setTimeout(this.flush, FLUSH_MS);
    }
  }

  private readonly flush = (): void => {
    if (this.scheduled === false) return;  // a timer that lost to setImmediate
    clearTimeout(this.timer);
    this.scheduled = false;
    if (this.writing) return;  // its completion calls next()
    if (this.queue.length === 0) return this.next();
    // Whole lines up to the size a single write may take: a pipe shared with
    // other workers must not see a line split across two writes.
    const max = this.pipe ? PIPE_ATOMIC : FILE_WRITE_MAX;
    let n = 0;
    let size = 0;
    while (n < this.queue.length && (n === 0 || size + this.queue[n]!.length <= max)) size += this.queue[n++]!.length;
    const lines = n === this.queue.length ? this.queue : this.queue.slice(0, n);
    this.queue = n === this.queue.length ? [] : this.queue.slice(n);
    this.queued -= size;
    this.writing = true;
    this.writeAll(Buffer.from(lines.join(''), 'utf8'), lines.length);
  };

  private writeAll(buf: Buffer, lines: number): void {
    fs.write(this.fd, buf, 0, buf.length, null, (err, n) => {
      if (err) {
        if (err.code === 'EAGAIN') {
          // A non-blocking pipe that is full: try again shortly.
          setTimeout(() => this.writeAll(buf, lines), 10);
          return;
        }
        this.writing = false;
        this.dropped += lines;
        this.log(`access log: write to ${this.path === '-' ? 'stdout' : this.path} failed (${err.code ?? err.message}); ${lines} lines lost`);
        this.next();
        return;
      }
      if (n < buf.length) {
        this.writeAll(buf.subarray(n), lines);
        return;
      }
      this.writing = false;
      this.written += lines;
      this.next();
    });
  }

  private next(): void {
    if (this.reopenAsked) return this.doReopen();
    if (this.queue.length > 0) {
      this.schedule();
      return;
    }
    if (this.droppedUnreported > 0) {
      this.log(`access log: ${this.droppedUnreported} lines dropped (writes to ${this.path === '-' ? 'stdout' : this.path} did not keep up); ${this.dropped} in all`);
      this.droppedUnreported = 0;
    }
    const waiting = this.idle;
    this.idle = [];
    for (const resolve of waiting) resolve();
  }
}
