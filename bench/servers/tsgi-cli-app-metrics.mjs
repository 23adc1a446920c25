// servers/tsgi-cli-stats.mjs with --app-metrics: the same hello world, the app's
// prom-client resolved and its registry read only on a scrape (none during the run).
process.env.APP_METRICS = '1';
await import('./tsgi-cli-stats.mjs');
