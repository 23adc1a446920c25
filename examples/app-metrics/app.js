// An app with its own prom-client metrics in prom-client's default registry;
// with --app-metrics, tsgi's /metrics shows them merged across the workers.
//   tsgi --processes 4 --http 127.0.0.1:8000 --stats http://127.0.0.1:9191 --app-metrics examples/app-metrics/app.js
//   curl '127.0.0.1:8000/order?items=3'; curl 127.0.0.1:9191/metrics
const client = require('prom-client');

const orders = new client.Counter({ name: 'shop_orders_total', help: 'Orders taken.', labelNames: ['size'] });
const items = new client.Histogram({ name: 'shop_order_items', help: 'Items per order.', buckets: [1, 5, 10] });
// Gauges: summed over the workers unless `aggregator` says otherwise.
const open = new client.Gauge({ name: 'shop_carts_open', help: 'Carts not checked out yet.' });
const largest = new client.Gauge({ name: 'shop_largest_order_items', help: 'The largest order so far.', aggregator: 'max' });
const started = new client.Gauge({ name: 'shop_worker_start_time_seconds', help: 'One per worker: left out.', aggregator: 'omit' });
started.setToCurrentTime();

let most = 0;
module.exports = (req) => {
  if (req.PATH_INFO === '/order') {
    const n = Number(new URLSearchParams(req.QUERY_STRING).get('items') ?? 1);
    orders.inc({ size: n > 5 ? 'large' : 'small' });
    items.observe(n);
    open.inc();
    largest.set(most = Math.max(most, n));
  } else if (req.PATH_INFO === '/checkout') {
    open.dec();
  }
  return { headers: { 'content-type': 'text/plain' }, body: 'ok\n' };
};
