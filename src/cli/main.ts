// `tsgi`: parse flags, load the app, serve it, stop gracefully on SIGTERM or
// SIGINT (never a reload; a second signal forces the exit).
import { TsgiError } from '../errors.js';
import { loadApp } from '../dispatch/load-app.js';
import { serve, type ServerHandle } from '../server/serve.js';
import { VERSION } from '../version.js';
import { helpText, parseArgs } from './flags.js';

function die(message: string, code: number): never {
  process.stderr.write(`tsgi: ${message}\n`);
  process.exit(code);
}

export async function main(argv: readonly string[]): Promise<void> {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    die(err instanceof Error ? err.message : String(err), 2);
  }
  if (opts.help) {
    process.stdout.write(helpText());
    return;
  }
  if (opts.version) {
    process.stdout.write(`tsgi ${VERSION} (node ${process.version}, ${process.platform}-${process.arch})\n`);
    return;
  }
  if (opts.app === undefined) die('no app module given (see tsgi --help)', 2);
  const listen = [
    ...opts.http.map((a) => `http://${a}`),
    ...opts.uwsgi.map((a) => `uwsgi://${a}`),
    ...opts.scgi.map((a) => `scgi://${a}`),
    ...opts.fastcgi.map((a) => `fastcgi://${a}`),
  ];
  if (listen.length === 0) die('no listener given: add --http ADDR (or --socket, --scgi-socket), e.g. --http 127.0.0.1:8000', 2);

  let app;
  try {
    app = await loadApp(opts.app);
  } catch (err) {
    die(err instanceof Error ? err.message : String(err), 1);
  }

  let server: ServerHandle;
  try {
    server = serve(app, {
      listen,
      allowFrom: opts.allowFrom.length > 0 ? opts.allowFrom : undefined,
      socketMode: opts.chmodSocket,
      maxConnections: opts.maxConnections,
      maxHeaderSize: opts.maxHeaderSize,
      maxBodySize: opts.maxBodySize,
      headerTimeout: opts.headerTimeout,
      keepAliveTimeout: opts.keepAliveTimeout,
      ioTimeout: opts.socketTimeout,
      shutdownTimeout: opts.shutdownTimeout,
    });
  } catch (err) {
    die(err instanceof Error ? err.message : String(err), 1);
  }
  for (const a of server.addresses) {
    const where = a.port !== undefined
      ? `${a.protocol}://${a.host?.includes(':') ? `[${a.host}]` : a.host}:${a.port}` : a.address;
    process.stderr.write(`tsgi: serving ${opts.app} on ${where}\n`);
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`tsgi: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`tsgi: ${signal}, finishing in-flight requests\n`);
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

export function run(): void {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const msg = err instanceof TsgiError || err instanceof Error ? err.message : String(err);
    die(msg, 1);
  });
}
