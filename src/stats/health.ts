// /health and /ready on the HTTP stats listener: what a load balancer's
// health check, or Kubernetes' probes, ask. The answers are read from what the
// master (or the single process) already knows — no worker is asked and
// nothing is awaited — so a busy app never delays them.
//   /health: alive — this process answers, and so does at least one worker
//            (one that reported within WORKER_SILENCE_MS).
//   /ready:  accepting — 200 while serving; 503 while starting (no worker
//            ready yet) and from the moment SIGTERM arrives (draining), so a
//            balancer stops sending before the listener closes (--drain-grace).

/** A worker that has said nothing for this long (its event loop blocked, or stopped) does not count as answering. */
export const WORKER_SILENCE_MS = 5_000;

export interface Health {
  /** Serving processes (workers, or threads) that answer. */
  answering: number;
  state: 'starting' | 'serving' | 'draining';
}

export const STARTING: Health = { answering: 0, state: 'starting' };

/** Status and body of a probe: 200 or 503, and one line saying why. */
export function probeReply(path: '/health' | '/ready', h: Health): { status: number; body: string } {
  if (path === '/ready') {
    const ok = h.state === 'serving' && h.answering > 0;
    const why = h.state === 'serving' && !ok ? 'no worker answers' : h.state;
    return { status: ok ? 200 : 503, body: `${ok ? 'ready' : `not ready: ${why}`}\n` };
  }
  const ok = h.answering > 0;
  return { status: ok ? 200 : 503, body: `${ok ? 'alive' : 'not alive'}: ${h.answering} answering, ${h.state}\n` };
}
