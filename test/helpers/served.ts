// For a describe() block run once per listener kind: the app served on a TCP
// port or a unix socket before its tests, closed after them.
import { after, before } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serve, type App, type ServerHandle } from 'tsgi';
import { tempDir } from './index.js';

export const LISTENER_KINDS = ['tcp', 'unix'] as const;
export type ListenerKind = (typeof LISTENER_KINDS)[number];

/** Where to connect once the tests run: a TCP port or a unix socket path (RawConnection.open takes either). */
export function servedBefore(kind: ListenerKind, app: App): { readonly port: number | string } {
  let server: ServerHandle;
  let port: number | string = -1;
  const dir = tempDir();
  before(() => {
    const listen = kind === 'tcp' ? '127.0.0.1:0' : path.join(dir, 's.sock');
    server = serve(app, { listen, log: () => {} });
    port = kind === 'tcp' ? server.addresses[0]!.port! : listen;
  });
  after(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { get port() { return port; } };
}
