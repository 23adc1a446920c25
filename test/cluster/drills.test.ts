// Three tsgi hosts in network namespaces behind nginx (proxy_pass with
// keepalive, uwsgi_pass, fastcgi_pass with keep-conn) and HAProxy (HTTP and
// FastCGI), configured with docs/cluster.md's blocks, under steady load from
// `tsgi bench --rate` on all five routes while each failure drill runs. Each
// drill reports every route's requests and failures (t.diagnostic) and meets
// its target: docs/cluster.md, "What the tests prove".
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { delay, have, tempDir } from '../helpers/index.js';
import { copyFastcgiParams, fillSnippet, freePort, startNginx, type Peer } from '../helpers/peers.js';
import { CLUSTER_DOC, Host, getText, haproxyUntil, hostAddresses, report, startHaproxy, startLoad, writeClusterApp,
  type RouteResult } from './hosts.js';
import { Lab, canMakeLab } from './lab.js';

const missing = !have('nginx') ? 'nginx not found: apt-get install nginx-light'
  : !have('haproxy') ? 'haproxy not found: apt-get install haproxy' : canMakeLab();
if (missing !== undefined && process.env.CI) throw new Error(`the cluster drills must run in CI: ${missing}`);

const dir = tempDir('tsgi-cluster-');
let lab: Lab;
const hosts: Host[] = [];
let nginx: Peer | undefined;
let haproxy: { peer: Peer; port: number; admin: string } | undefined;
let routes: Array<{ name: string; url: string }> = [];
const upstreamLog = path.join(dir, 'nginx-upstream.log');

describe('cluster drills', { skip: missing, timeout: 240_000 }, () => {
  before(async () => {
    lab = new Lab(3);
    const app = writeClusterApp(dir);
    for (const h of lab.hosts) hosts.push(new Host(lab, h, dir, app));
    for (const h of hosts) h.start();
    await Promise.all(hosts.map((h) => h.ready()));
    copyFastcgiParams(dir);
    let nginxPort = 0;
    nginx = await startNginx(dir, async () => {
      nginxPort = await freePort();
      // The doc's block as written, after a log of which host served each request (the test's own line).
      const config = fillSnippet('nginx-cluster', { ...hostAddresses(lab), 'listen 80;': `listen 127.0.0.1:${nginxPort};` }, CLUSTER_DOC);
      return [{ config: `log_format upstream '$upstream_addr $status';\naccess_log ${upstreamLog} upstream;\n${config}`, port: nginxPort }];
    });
    haproxy = await startHaproxy(dir, lab, freePort);
    for (const i of [1, 2, 3]) await haproxyUntil(haproxy.admin, 'tsgi_http', `host${i}`, 'UP');
    routes = [
      { name: 'nginx-http', url: `http://127.0.0.1:${nginxPort}/` },
      { name: 'nginx-uwsgi', url: `http://127.0.0.1:${nginxPort}/uwsgi/` },
      { name: 'nginx-fastcgi', url: `http://127.0.0.1:${nginxPort}/fastcgi/` },
      { name: 'haproxy-http', url: `http://127.0.0.1:${haproxy.port}/` },
      { name: 'haproxy-fastcgi', url: `http://127.0.0.1:${haproxy.port}/fastcgi/` },
    ];
  });

  after(async () => {
    await nginx?.stop();
    await haproxy?.peer.stop();
    for (const h of hosts) await h.kill();
    lab?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `body` under load on every route; reports and returns each route's result. */
  async function underLoad(t: TestContext, body: () => Promise<void>): Promise<RouteResult[]> {
    const load = startLoad(routes);
    let results: RouteResult[];
    try {
      await delay(1_000);
      await body();
      await delay(1_000);
    } finally {
      results = await load.stop();
    }
    t.diagnostic(report(results));
    for (const r of results) assert.ok(r.requests > 0, `${r.route}: no requests`);
    return results;
  }

  function noneFailed(results: RouteResult[], failures: string): void {
    assert.deepEqual(results.filter((r) => r.failed > 0).map((r) => r.route), [], `${report(results)}\n${failures}`);
  }

  function logs(): string {
    return `${hosts.map((h) => h.log()).join('\n')}\n${nginx?.log(30) ?? ''}\n${haproxy?.peer.log(30) ?? ''}`;
  }

  /** Until requests through nginx reach host h again (the upstream log names it), bounded. */
  async function nginxSendsTo(h: Host, timeoutMs = 10_000): Promise<void> {
    const from = fs.statSync(upstreamLog).size;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = fs.readFileSync(upstreamLog, 'utf8').slice(from);
      if (text.split('\n').some((l) => l.startsWith(`${h.h.address}:`))) return;
      assert.ok(Date.now() < deadline, `nginx sent nothing to host ${h.h.index} within ${timeoutMs} ms`);
      await delay(100);
    }
  }

  /** Back in service: /ready 200, HAProxy has it UP. */
  async function backInService(h: Host): Promise<void> {
    await h.ready();
    await haproxyUntil(haproxy!.admin, 'tsgi_http', `host${h.h.index}`, 'UP');
  }

  test('rolling reload: SIGHUP to each host in turn, 0 failed', async (t) => {
    const results = await underLoad(t, async () => {
      for (const h of hosts) {
        const before = h.reloads();
        h.signal('SIGHUP');
        const deadline = Date.now() + 15_000;
        while (h.reloads() === before) {
          assert.ok(Date.now() < deadline, `host ${h.h.index}: no "reload done"\n${h.log()}`);
          await delay(50);
        }
      }
    });
    noneFailed(results, logs());
  });

  test('rolling deploy: SIGTERM (drain), start the next version, next host; 0 failed', async (t) => {
    const results = await underLoad(t, async () => {
      for (const h of hosts) {
        h.version = 2;
        h.signal('SIGTERM');
        await haproxyUntil(haproxy!.admin, 'tsgi_http', `host${h.h.index}`, 'DOWN', 5_000);
        await h.waitExit(20_000);
        assert.match(h.log(), /SIGTERM: draining: \/ready says 503, still accepting for 3\.0 s/);
        h.start();
        await backInService(h);
      }
    });
    noneFailed(results, logs());
    // Every route now reaches version 2 only, on every host.
    const seen = new Set<string>();
    for (const r of routes) {
      for (let i = 0; i < 6; i++) {
        const reply = await getText(r.url, 5_000);
        assert.equal(reply.status, 200, r.name);
        assert.match(reply.body, /^host [123] v2\n$/, r.name);
        seen.add(reply.body);
      }
    }
    assert.equal(seen.size, 3, `all three hosts answered: ${[...seen].join(', ')}`);
  });

  test('one host killed (SIGKILL): 0 failed GETs; the balancers take it out and back by themselves', async (t) => {
    const h = hosts[1]!;
    const results = await underLoad(t, async () => {
      await h.kill();
      await haproxyUntil(haproxy!.admin, 'tsgi_http', 'host2', 'DOWN', 5_000);
      await delay(1_000);
      h.start();
      await backInService(h);
      await nginxSendsTo(h);
    });
    noneFailed(results, logs());
  });

  test('one host\'s link cut for 2 s, then restored: 0 failed GETs; both balancers use it again', async (t) => {
    const h = hosts[2]!;
    const results = await underLoad(t, async () => {
      lab.setLink(h.h, false);
      try {
        await haproxyUntil(haproxy!.admin, 'tsgi_http', 'host3', 'DOWN', 5_000);
        await delay(500);
      } finally {
        lab.setLink(h.h, true);
      }
      await haproxyUntil(haproxy!.admin, 'tsgi_http', 'host3', 'UP', 10_000);
      await nginxSendsTo(h);
    });
    noneFailed(results, logs());
  });

  test('one slow host (150 ms a request): least-connections gives it under 15 % of the requests', async (t) => {
    const slow = hosts[0]!;
    const before = await Promise.all(hosts.map((h) => h.requests()));
    fs.writeFileSync(slow.slowFlag, '');
    let served: number[] = [];
    try {
      const results = await underLoad(t, async () => {
        await delay(2_000);
      });
      served = (await Promise.all(hosts.map((h) => h.requests()))).map((n, i) => n - before[i]!);
      noneFailed(results, logs());
    } finally {
      fs.rmSync(slow.slowFlag, { force: true });
    }
    const total = served.reduce((a, b) => a + b, 0);
    t.diagnostic(`requests per host: ${served.join(', ')} (the first is slow: ${(100 * served[0]! / total).toFixed(1)} %)`);
    assert.ok(served[0]! < 0.15 * total, `slow host served ${served[0]} of ${total}`);
  });
});
