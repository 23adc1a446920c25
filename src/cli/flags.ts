// The command line: flags spelled like uWSGI's where the meaning is the same.
import { TsgiError } from '../errors.js';

export interface CliOptions {
  http: string[];
  uwsgi: string[];
  scgi: string[];
  fastcgi: string[];
  allowFrom: string[];
  app: string | undefined;
  chmodSocket: number | undefined;
  maxConnections: number | undefined;
  maxHeaderSize: number | undefined;
  maxBodySize: number | undefined;
  headerTimeout: number | undefined;
  keepAliveTimeout: number | undefined;
  socketTimeout: number | undefined;
  shutdownTimeout: number | undefined;
  help: boolean;
  version: boolean;
}

type Kind = 'list' | 'int' | 'mode' | 'seconds' | 'bool';
interface Flag { names: string[]; key: keyof CliOptions; kind: Kind; arg: string; help: string }

export const FLAGS: Flag[] = [
  { names: ['--http'], key: 'http', kind: 'list', arg: 'ADDR', help: 'serve HTTP/1.1 on ADDR (repeatable): host:port, [v6]:port, :port, /path.sock, @abstract, fd:N' },
  { names: ['--socket', '-s', '--uwsgi-socket'], key: 'uwsgi', kind: 'list', arg: 'ADDR', help: 'serve the uwsgi protocol (nginx uwsgi_pass) on ADDR (repeatable)' },
  { names: ['--scgi-socket'], key: 'scgi', kind: 'list', arg: 'ADDR', help: 'serve SCGI (nginx scgi_pass) on ADDR (repeatable)' },
  { names: ['--fastcgi-socket'], key: 'fastcgi', kind: 'list', arg: 'ADDR', help: 'serve FastCGI (nginx fastcgi_pass, Apache mod_proxy_fcgi) on ADDR (repeatable)' },
  { names: ['--allow-from'], key: 'allowFrom', kind: 'list', arg: 'NET', help: 'TCP peers the uwsgi/SCGI/FastCGI listeners accept, e.g. 10.0.0.0/8 (repeatable; default loopback)' },
  { names: ['--chmod-socket'], key: 'chmodSocket', kind: 'mode', arg: 'MODE', help: 'permissions of unix socket files, octal (e.g. 660)' },
  { names: ['--max-connections'], key: 'maxConnections', kind: 'int', arg: 'N', help: 'open connections at most (default 10000); more wait in the backlog' },
  { names: ['--buffer-size', '--max-header-size'], key: 'maxHeaderSize', kind: 'int', arg: 'BYTES', help: 'request head at most: HTTP headers, uwsgi/SCGI variables (default 65536) -> 431' },
  { names: ['--max-body-size', '--limit-post'], key: 'maxBodySize', kind: 'int', arg: 'BYTES', help: 'request body at most (default 104857600) -> 413' },
  { names: ['--header-timeout'], key: 'headerTimeout', kind: 'seconds', arg: 'SECONDS', help: 'time for a request head to arrive (default 60) -> 408' },
  { names: ['--keepalive-timeout', '--http-keepalive'], key: 'keepAliveTimeout', kind: 'seconds', arg: 'SECONDS', help: 'idle keep-alive connections close after (default 15)' },
  { names: ['--socket-timeout'], key: 'socketTimeout', kind: 'seconds', arg: 'SECONDS', help: 'a stalled body upload or download is cut after (default 60)' },
  { names: ['--shutdown-timeout'], key: 'shutdownTimeout', kind: 'seconds', arg: 'SECONDS', help: 'on SIGTERM/SIGINT, in-flight requests get this long (default 10)' },
  { names: ['-h', '--help'], key: 'help', kind: 'bool', arg: '', help: 'show this help' },
  { names: ['-V', '--version'], key: 'version', kind: 'bool', arg: '', help: 'print the version' },
];

function usage(msg: string): TsgiError {
  return new TsgiError('TSGI_ERR_CLI_USAGE', msg);
}

function parseValue(flag: Flag, name: string, raw: string): number | string {
  switch (flag.kind) {
    case 'int': {
      if (!/^\d+$/.test(raw)) throw usage(`${name} needs a whole number, not "${raw}"`);
      return Number(raw);
    }
    case 'seconds': {
      if (!/^\d+(\.\d+)?$/.test(raw)) throw usage(`${name} needs seconds, not "${raw}"`);
      return Math.round(Number(raw) * 1000);
    }
    case 'mode': {
      if (!/^0?[0-7]{3}$/.test(raw)) throw usage(`${name} needs an octal mode such as 660, not "${raw}"`);
      return parseInt(raw, 8);
    }
    default:
      return raw;
  }
}

export function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    http: [], uwsgi: [], scgi: [], fastcgi: [], allowFrom: [], app: undefined, chmodSocket: undefined, maxConnections: undefined, maxHeaderSize: undefined,
    maxBodySize: undefined, headerTimeout: undefined, keepAliveTimeout: undefined, socketTimeout: undefined,
    shutdownTimeout: undefined, help: false, version: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      if (o.app !== undefined) throw usage(`one app module only ("${o.app}" and "${arg}")`);
      o.app = arg;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const flag = FLAGS.find((f) => f.names.includes(name));
    if (!flag) throw usage(`unknown option ${name} (see tsgi --help)`);
    if (flag.kind === 'bool') {
      if (eq !== -1) throw usage(`${name} takes no value`);
      (o[flag.key] as boolean) = true;
      continue;
    }
    let raw: string;
    if (eq !== -1) {
      raw = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw usage(`${name} needs a value (${flag.arg})`);
      raw = next;
      i++;
    }
    const value = parseValue(flag, name, raw);
    if (flag.kind === 'list') (o[flag.key] as string[]).push(value as string);
    else (o[flag.key] as number) = value as number;
  }
  return o;
}

export function helpText(): string {
  const lines = [
    'Usage: tsgi [options] APP',
    '',
    'Serves APP, a module exporting a TSGI app (default export, or "module.js:name").',
    '',
    'Options:',
  ];
  for (const f of FLAGS) {
    const left = `  ${f.names.join(', ')}${f.arg ? ' ' + f.arg : ''}`;
    lines.push(left.padEnd(34) + ' ' + f.help);
  }
  lines.push('', 'Examples:', '  tsgi --http 127.0.0.1:8000 --http /tmp/app.sock ./app.js',
    '  tsgi --socket /run/app.sock --chmod-socket 660 --scgi-socket 127.0.0.1:4000 ./app.js', '');
  return lines.join('\n');
}
