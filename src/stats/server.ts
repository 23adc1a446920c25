// --stats ADDR: the stats server, in the master (or the single process), on
// node:net / node:http: it is off the request path. Plain: every connection
// gets one JSON document and is closed (uWSGI's --stats). http://ADDR: GET /
// or /stats is the JSON, /metrics the Prometheus text, /health and /ready
// the probes of a load balancer or Kubernetes (./health.ts).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { TsgiError } from '../errors.js';
import { STARTING, probeReply, type Health } from './health.js';
import { LogOnce, appMetricsText } from './app-metrics.js';
import { prometheusText, statsDocument, type StatsInput } from './render.js';

export interface StatsAddress {
  http: boolean;
  /** TCP, or a unix path ("\0name" for an abstract one). */
  host?: string;
  port?: number;
  path?: string;
  /** As given, for messages. */
  raw: string;
}

function usage(msg: string): TsgiError {
  return new TsgiError('TSGI_ERR_CLI_USAGE', msg);
}

/**
 * "9191", ":9191" (both loopback: 127.0.0.1), "0.0.0.0:9191", "[::1]:9191",
 * "/run/stats.sock", "@name"; "http://" before any of them for HTTP.
 */
export function parseStatsAddress(raw: string): StatsAddress {
  let rest = raw;
  let isHttp = false;
  if (rest.startsWith('http://')) {
    isHttp = true;
    rest = rest.slice('http://'.length).replace(/\/$/, '');
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) {
    throw usage(`--stats ${raw}: only http:// is known (or no scheme, for one JSON document per connection)`);
  }
  if (rest.startsWith('/') || rest.startsWith('unix:')) return { http: isHttp, path: rest.replace(/^unix:/, ''), raw };
  if (rest.startsWith('@') && rest.length > 1) return { http: isHttp, path: `\0${rest.slice(1)}`, raw };
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(rest);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw usage(`--stats ${raw}: expected [http://]PORT, HOST:PORT, [IPv6]:PORT, /path.sock or @name`);
  }
  const host = m[1] === undefined || m[1] === '' ? '127.0.0.1' : m[1].replace(/^\[(.*)\]$/, '$1');
  return { http: isHttp, host, port, raw };
}

export interface StatsServer {
  /** "http://127.0.0.1:9191", "127.0.0.1:9191 (JSON per connection)", "/run/stats.sock". */
  readonly where: string;
  /**
   * Where the numbers come from; until it is set, clients get 503. `metrics`:
   * a /metrics scrape, which also wants the app's registries (--app-metrics).
   */
  provide(collect: (metrics: boolean) => StatsInput | Promise<StatsInput>): void;
  /** What /health and /ready answer: read on each probe, never waiting for a worker; until it is set, 503. */
  provideHealth(health: () => Health): void;
  close(): void;
}

/** A unix socket file left by a process that is gone: removed; one still listened on: refused. */
async function clearStale(file: string): Promise<void> {
  if (file.startsWith('\0') || !fs.existsSync(file)) return;
  if (!fs.statSync(file).isSocket()) throw new Error(`${file} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(file);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${file}: another process is listening on it`);
  fs.unlinkSync(file);
}

const HELP_BODY = 'tsgi stats: GET / or /stats (JSON, uWSGI\'s shape), GET /metrics (Prometheus text format), '
  + 'GET /health (alive), GET /ready (accepting)\n';

export async function startStatsServer(addr: StatsAddress, log: (line: string) => void): Promise<StatsServer> {
  let collect: ((metrics: boolean) => StatsInput | Promise<StatsInput>) | undefined;
  let health: () => Health = () => STARTING;
  const gather = async (metrics = false): Promise<StatsInput> => {
    if (collect === undefined) throw new Error('starting');
    return collect(metrics);
  };
  const appLog = new LogOnce((line) => log(line));
  let server: net.Server;
  if (addr.http) {
    server = http.createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0]!;
      const send = (status: number, type: string, body: string, extra: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(405, 'text/plain; charset=utf-8', HELP_BODY, { allow: 'GET, HEAD' });
        return;
      }
      if (url === '/health' || url === '/ready') {
        const { status, body } = probeReply(url, health());
        send(status, 'text/plain; charset=utf-8', body);
        return;
      }
      if (url !== '/' && url !== '/stats' && url !== '/metrics') {
        send(404, 'text/plain; charset=utf-8', HELP_BODY);
        return;
      }
      gather(url === '/metrics').then(async (input) => {
        const doc = statsDocument(input);
        if (url !== '/metrics') return send(200, 'application/json', JSON.stringify(doc, null, 2) + '\n');
        const app = input.appMetrics === undefined ? '' : await appMetricsText(input.appMetrics, appLog);
        send(200, 'text/plain; version=0.0.4; charset=utf-8', prometheusText(doc, input) + app);
      }, (err: unknown) => {
        const msg = err instanceof Error ? err.message : String(err);
        if (msg !== 'starting') log(`stats: ${msg}`);
        send(503, 'text/plain; charset=utf-8', `stats unavailable: ${msg}\n`);
      });
    });
    (server as http.Server).keepAliveTimeout = 5_000;
  } else {
    server = net.createServer((sock) => {
      sock.on('error', () => {});  // a client that left: nothing to report
      gather().then((input) => sock.end(JSON.stringify(statsDocument(input)) + '\n'), (err: unknown) => {
        const msg = err instanceof Error ? err.message : String(err);
        if (msg !== 'starting') log(`stats: ${msg}`);
        sock.end(JSON.stringify({ error: msg }) + '\n');
      });
    });
  }
  if (addr.path !== undefined) {
    try {
      await clearStale(addr.path);
    } catch (err) {
      throw new Error(`--stats ${addr.raw}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`--stats ${addr.raw}: ${err.message}`)));
    if (addr.path !== undefined) server.listen(addr.path, resolve);
    else server.listen(addr.port, addr.host, resolve);
  });
  server.on('error', (err) => log(`stats: ${err.message}`));
  server.unref();
  const unlink = (): void => {
    if (addr.path === undefined || addr.path.startsWith('\0')) return;
    try {
      fs.unlinkSync(addr.path);
    } catch {
      // gone already
    }
  };
  // The master and the single process leave by process.exit().
  process.once('exit', unlink);
  const a = server.address();
  const bare = typeof a === 'object' && a !== null
    ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`
    : addr.path!.replace(/^\0/, '@');
  const where = addr.http ? `http://${bare}` : `${bare} (one JSON document per connection)`;
  const isLoopback = addr.path !== undefined || /^(127\.|::1$|localhost$)/.test(addr.host ?? '');
  if (!isLoopback) log(`warning: the stats server on ${bare} is reachable from other hosts; it has no authentication`);
  return {
    where,
    provide(c) {
      collect = c;
    },
    provideHealth(h) {
      health = h;
    },
    close() {
      server.close();
      unlink();
    },
  };
}
