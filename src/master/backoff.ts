// Restart delays for a worker slot that keeps dying: 0.1 s doubling to 10 s,
// back to the start once a worker has lived 30 s (PM2's exp_backoff_restart_delay
// shape; uWSGI sleeps a fixed 2 s, gunicorn gives up).

export const BACKOFF_FIRST_MS = 100;
export const BACKOFF_MAX_MS = 10_000;
export const BACKOFF_RESET_AFTER_MS = 30_000;

export class Backoff {
  private nextMs = BACKOFF_FIRST_MS;

  /** The delay before restarting after a death of a worker that lived livedMs. */
  delayAfter(livedMs: number): number {
    if (livedMs >= BACKOFF_RESET_AFTER_MS) this.nextMs = BACKOFF_FIRST_MS;
    const d = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, BACKOFF_MAX_MS);
    return d;
  }
}
