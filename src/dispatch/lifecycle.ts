// App lifecycle (TSGI 1.1, docs/tsgi.md section 1.1): the startup and
// shutdown hooks of the apps a process serves, found on the app module's
// exports, on the exported app value, or given by an adapter (a Fastify
// instance's ready() and close()), and run by the server: every startup, in
// order, before the first request is accepted; every shutdown, in reverse
// order, once the server has drained, bounded by the shutdown timeout.
import { TsgiError } from '../errors.js';
import type { Lifecycle } from '../tsgi/types.js';
import { appStack } from './load-error.js';

/** An error with its stack (the app's frames), for the log. */
function errorText(err: unknown): string {
  return err instanceof Error ? appStack(err) : String(err);
}

export class Lifecycles {
  private readonly list: Array<{ name: string; hooks: Lifecycle }> = [];
  private started = 0;
  private stopping: Promise<boolean> | undefined;

  /** Adds an app's hooks; `name` says whose they are in errors ("app.js"). */
  add(name: string, hooks: Lifecycle | undefined): void {
    if (hooks !== undefined && (hooks.startup !== undefined || hooks.shutdown !== undefined)) this.list.push({ name, hooks });
  }

  get size(): number {
    return this.list.length;
  }

  /**
   * Runs every startup hook in turn. One that throws or rejects ends the
   * start: a TsgiError naming the module, whose cause is the error; the
   * hooks that had started already are shut down by shutdown().
   */
  async startup(): Promise<void> {
    for (const { name, hooks } of this.list) {
      try {
        await hooks.startup?.();
      } catch (err) {
        if (err instanceof TsgiError) throw err;
        throw new TsgiError('TSGI_ERR_APP_STARTUP', `${name}: ${errorText(err)}`, { cause: err });
      }
      this.started++;
    }
  }

  /**
   * Runs the shutdown hook of every app that startup() got through, last
   * started first, each once; an error is logged and
   * the others still run. Resolves true when all finished, false when
   * `timeoutMs` ran out first (the hooks go on; the caller ends the process).
   */
  shutdown(timeoutMs: number, log: (line: string) => void): Promise<boolean> {
    this.stopping ??= new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        log(`shutdown hooks still running after ${timeoutMs} ms (--shutdown-timeout); exiting anyway`);
        resolve(false);
      }, Math.max(timeoutMs, 0));
      void (async () => {
        const ran = this.list.slice(0, this.started);
        for (const { name, hooks } of ran.reverse()) {
          try {
            await hooks.shutdown?.();
          } catch (err) {
            log(`${name}: shutdown hook failed: ${errorText(err)}`);
          }
        }
        clearTimeout(timer);
        resolve(true);
      })();
    });
    return this.stopping;
  }
}
