// `tsgi doctor` and `tsgi --version --verbose`: which native addon this
// process loads (prebuilt, compiled at install, or named by TSGI_ADDON), what
// it was built with, and the platform features its core uses. The first
// thing a bug report needs; printed even when the addon cannot be loaded.
import { VERSION } from '../version.js';
import type { AddonOrigin, PlatformInfo } from '../native/load.js';

export interface DoctorReport {
  tsgi: string;
  node: string;
  napi: string | undefined;
  platform: string;
  /** The C library this process runs on: 'glibc 2.36', 'musl', or 'none' (macOS). */
  libc: string;
  addon: AddonOrigin | undefined;
  /** Why the addon could not be loaded (then `addon` and `features` are absent). */
  error: string | undefined;
  features: PlatformInfo | undefined;
}

function runtimeLibc(): string {
  if (process.platform !== 'linux') return 'none';
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : 'musl';
}

export function doctorReport(): DoctorReport {
  const report: DoctorReport = {
    tsgi: VERSION,
    node: process.version,
    napi: process.versions.napi,
    platform: `${process.platform}-${process.arch}`,
    libc: runtimeLibc(),
    addon: undefined,
    error: undefined,
    features: undefined,
  };
  try {
    // Loaded here, not imported: a report is wanted most when loading fails.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../native/load.js') as typeof import('../native/load.js');
    report.addon = native.addonOrigin();
    report.features = native.binding.platform();
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
  }
  return report;
}

const SOURCE: Record<AddonOrigin['source'], string> = {
  prebuilt: 'prebuilt binary',
  compiled: 'compiled from source at install',
  env: 'named by TSGI_ADDON',
};

function yesNo(on: boolean, yes: string, no: string): string {
  return on ? yes : no;
}

export function formatDoctor(r: DoctorReport): string {
  const rows: [string, string][] = [
    ['tsgi', r.tsgi],
    ['node', `${r.node} (N-API ${r.napi ?? '?'})`],
    ['platform', `${r.platform}, ${r.libc === 'none' ? 'system libc' : r.libc}`],
  ];
  if (r.addon) rows.push(['addon', `${SOURCE[r.addon.source]}: ${r.addon.path}`]);
  if (r.error) rows.push(['addon', `NOT LOADED: ${r.error}`]);
  const f = r.features;
  if (f) {
    rows.push(
      ['built with', `${f.compiler}, N-API ${f.napiVersion}${f.libc ? `, ${f.libc} headers` : ''}` +
        `${f.glibcFloor ? ` (loads on glibc ${f.glibcFloor} and newer)` : ''}` +
        `${f.portable ? ', portable paths forced' : ''}${f.sanitizers ? ', sanitizers' : ''}`],
      ['poller', f.poller],
      ['accept', f.accept],
      ['SIGPIPE', f.noSigpipe],
      ['MSG_MORE', yesNo(f.msgMore, 'yes (reply and FIN in one segment)', 'no')],
      ['TCP_DEFER_ACCEPT', yesNo(f.deferAccept, 'yes (uwsgi, SCGI and FastCGI listeners)', 'no')],
      ['EPOLLEXCLUSIVE', f.exclusiveAccept],
      ['sendfile', f.sendfile],
      ['sealed bodies', f.sealed === 'memfd' ? 'memfd sealed against writes (seal())'
        : 'an unlinked read-only temporary file (seal())'],
    );
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join('');
}

/** `tsgi doctor [--json]`: exit 0 when the addon loads, 1 when it does not. */
export function runDoctor(argv: readonly string[]): void {
  const json = argv.includes('--json');
  const unknown = argv.filter((a) => a !== '--json');
  if (unknown.length > 0) {
    process.stderr.write(`tsgi doctor: unknown argument ${unknown[0]} (usage: tsgi doctor [--json])\n`);
    process.exit(2);
  }
  const report = doctorReport();
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report));
  if (report.error) process.exitCode = 1;
}

/** The one-line version: tsgi, node and platform. */
export function versionLine(): string {
  return `tsgi ${VERSION} (node ${process.version}, ${process.platform}-${process.arch})\n`;
}

/** `tsgi --version` (one line) and `tsgi --version --verbose` (doctor's report). */
export function runVersion(verbose: boolean): void {
  if (verbose) runDoctor([]);
  else process.stdout.write(versionLine());
}
