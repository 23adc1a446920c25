// How a tsgi process ends once it has drained and run the apps' shutdown
// hooks. An app may also have installed its own SIGTERM (or SIGINT) handler,
// as apps written for `node app.js` do (`process.on('SIGTERM', async () => {
// await app.close(); ... })`). tsgi does not cut such a handler off: the
// process ends by itself when the app's work is done (Node exits once the
// event loop is empty, with the exit code set here), or at the deadline.
// docs/design.md, "App lifecycle".

/** The least time shutdown hooks and the app's own handlers get, even when draining used up the timeout. */
export const HOOKS_MIN_MS = 1_000;

/** The listeners for `signal` that are not tsgi's own (`ours`). */
export function appHandlers(signal: NodeJS.Signals, ours: readonly Function[]): Function[] {
  return process.listeners(signal).filter((l) => !ours.includes(l));
}

/** Milliseconds left until `deadline`, at least HOOKS_MIN_MS. */
export function remaining(deadline: number): number {
  return Math.max(deadline - Date.now(), HOOKS_MIN_MS);
}

/**
 * Ends the process with `code`: at once when `waitForApp` is false; else
 * when the event loop empties (the app's own handler finished), or after
 * `waitMs`, whichever comes first.
 */
export function exitWhenDone(code: number, waitForApp: boolean, waitMs: number, log: (line: string) => void): void {
  if (!waitForApp) process.exit(code);
  process.exitCode = code;
  setTimeout(() => {
    log(`the app's own signal handler still running after ${waitMs} ms (--shutdown-timeout); exiting`);
    process.exit(code);
  }, waitMs).unref();
}
