// docs/cluster.md's blocks: the `tested` ones are what the drills configure
// (drills.test.ts reads them); the Dockerfile and the Kubernetes manifests
// cannot run here (no Docker, no cluster), so what can be checked without
// them is: the YAML parses (PyYAML, a real parser), the probes' paths and
// port are the --stats listener's, the grace period covers preStop +
// --drain-grace + --shutdown-timeout, the container's arguments are the
// image's and tsgi accepts them, and what the Dockerfile runs exists in the
// package it installs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, have } from '../helpers/index.js';
import { deploySnippet, deploySnippetNames } from '../helpers/peers.js';
import { runTsgi } from '../helpers/tsgi-process.js';
import { CLUSTER_DOC } from './hosts.js';

const doc = fs.readFileSync(CLUSTER_DOC, 'utf8');

test('every block marked tested in docs/cluster.md is one the drills use, and the checked ones are there', () => {
  assert.deepEqual(deploySnippetNames(doc), ['tsgi-host', 'nginx-cluster', 'haproxy-cluster']);
  const drills = fs.readFileSync(path.join(ROOT, 'test', 'cluster', 'drills.test.ts'), 'utf8')
    + fs.readFileSync(path.join(ROOT, 'test', 'cluster', 'hosts.ts'), 'utf8');
  for (const name of deploySnippetNames(doc)) assert.ok(drills.includes(`'${name}'`), `no drill uses ${name}`);
  assert.deepEqual([...doc.matchAll(/<!-- checked: ([a-z0-9-]+) -->/g)].map((m) => m[1]), ['dockerfile', 'k8s-deployment']);
  assert.match(doc, /not tested here/);
});

test('the host command is one tsgi accepts, with the probes on the stats listener', () => {
  const words = deploySnippet('tsgi-host', CLUSTER_DOC).replace(/\\\n/g, ' ').trim().split(/\s+/);
  const r = runTsgi([...words.slice(1), '--print-config']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^stats = http:\/\/10\.0\.0\.11:9191 /m);
  assert.match(r.stdout, /^drain-grace = 3 /m);
  // HAProxy's check port and nginx's addresses are the host's.
  assert.match(deploySnippet('haproxy-cluster', CLUSTER_DOC), /check port 9191 /);
  assert.match(deploySnippet('haproxy-cluster', CLUSTER_DOC), /option httpchk GET \/ready\n/);
});

interface Container {
  args: string[];
  ports: Array<{ name: string; containerPort: number }>;
  startupProbe: Probe; livenessProbe: Probe; readinessProbe: Probe;
  lifecycle: { preStop: { sleep: { seconds: number } } };
}
interface Probe { httpGet: { path: string; port: string | number } }

function parseYaml(text: string): unknown[] {
  const r = spawnSync('python3', ['-c', 'import json, sys, yaml; json.dump(list(yaml.safe_load_all(sys.stdin)), sys.stdout)'],
    { input: text, encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `the manifests do not parse as YAML: ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown[];
}

/** The value after `flag` in an argument list. */
function flag(args: readonly string[], name: string): string {
  const i = args.indexOf(name);
  assert.ok(i >= 0 && i + 1 < args.length, `no ${name} in ${args.join(' ')}`);
  return args[i + 1]!;
}

test('the Kubernetes manifests parse, and probes, ports and grace period match the flags', (t) => {
  const yamlOk = spawnSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0;
  if (!yamlOk) {
    if (process.env.CI) throw new Error('PyYAML is required in CI (apt-get install python3-yaml)');
    t.skip('PyYAML not found: apt-get install python3-yaml');
    return;
  }
  const [deployment, service] = parseYaml(deploySnippet('k8s-deployment', CLUSTER_DOC, 'checked')) as any[];
  assert.equal(deployment.kind, 'Deployment');
  assert.equal(service.kind, 'Service');
  const spec = deployment.spec.template.spec;
  const c = spec.containers[0] as Container;
  const port = (name: string | number): number => typeof name === 'number' ? name
    : c.ports.find((p) => p.name === name)!.containerPort;
  const stats = /^http:\/\/0\.0\.0\.0:(\d+)$/.exec(flag(c.args, '--stats'));
  assert.ok(stats, 'the probes need --stats http://0.0.0.0:PORT (reachable by the kubelet)');
  for (const [probe, pathWanted] of [['startupProbe', '/health'], ['livenessProbe', '/health'], ['readinessProbe', '/ready']] as const) {
    assert.equal(c[probe].httpGet.path, pathWanted, probe);
    assert.equal(port(c[probe].httpGet.port), Number(stats[1]), `${probe} port`);
  }
  assert.equal(port(service.spec.ports[0].targetPort), Number(/:(\d+)$/.exec(flag(c.args, '--http'))![1]));
  assert.deepEqual(service.spec.selector, deployment.spec.template.metadata.labels);
  const grace = c.lifecycle.preStop.sleep.seconds + Number(flag(c.args, '--drain-grace')) + Number(flag(c.args, '--shutdown-timeout'));
  assert.ok(spec.terminationGracePeriodSeconds > grace,
    `terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} must exceed preStop + drain grace + shutdown timeout (${grace})`);
  // The container's arguments are the image's CMD, and tsgi accepts them.
  const cmd = /^CMD (\[.*\])$/m.exec(deploySnippet('dockerfile', CLUSTER_DOC, 'checked'));
  assert.deepEqual(JSON.parse(cmd![1]!), c.args);
  const r = runTsgi([...c.args, '--print-config']);
  assert.equal(r.code, 0, r.stderr);
});

test('the Dockerfile: two stages, the final one without a compiler and not root, running the installed bin/tsgi', () => {
  const text = deploySnippet('dockerfile', CLUSTER_DOC, 'checked');
  const from = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  assert.equal(from.length, 2, 'multi-stage');
  assert.match(from[1]!, /-slim$/, 'the final image is a slim one (no compiler)');
  const final = text.slice(text.lastIndexOf('\nFROM '));
  assert.doesNotMatch(final, /^RUN /m, 'nothing is built or installed in the final stage');
  assert.match(final, /^USER node$/m);
  const entry = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(final)![1]!) as string[];
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string>; files: string[] };
  // node_modules/tsgi/bin/tsgi: the package's bin, in a folder its "files" ship.
  assert.deepEqual(entry, ['node', `node_modules/${pkg.name}/${path.normalize(pkg.bin.tsgi!)}`]);
  assert.ok(fs.existsSync(path.join(ROOT, pkg.bin.tsgi!)));
  assert.ok(pkg.files.includes('bin/') && pkg.files.includes('prebuilds/') && pkg.files.includes('dist/'));
  assert.match(text, /^RUN npm ci --omit=dev$/m);
  for (const m of text.matchAll(/^EXPOSE (.*)$/gm)) {
    assert.deepEqual(m[1]!.split(/\s+/).map(Number), [8000, 9191], 'EXPOSE the --http and --stats ports');
  }
});

test('a cluster needs the peers the drills use', () => {
  // In CI both are installed by .ci/run; the drills themselves fail there without them.
  const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
  assert.match(ci, /\bhaproxy\b/);
  assert.match(ci, /\bpython3-yaml\b/);
  if (process.env.CI) assert.ok(have('haproxy'));
});
