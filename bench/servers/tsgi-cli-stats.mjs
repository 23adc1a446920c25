// servers/tsgi-cli.mjs with --stats http://127.0.0.1:0 (or STATS=ADDR).
process.env.STATS ||= 'http://127.0.0.1:0';
await import('./tsgi-cli.mjs');
