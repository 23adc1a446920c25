// Medians and number formatting for the benchmark tables.
export function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export const summary = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
export const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : 'n/a');
export const range = (s, d = 0) => `${fmt(s.median, d)} (${fmt(s.min, d)}–${fmt(s.max, d)})`;
export const pct = (x) => `${fmt(x * 100)}%`;
/** { key: summary of that key over the runs } for each key. */
export const summaries = (runs, keys) => Object.fromEntries(keys.map((k) => [k, summary(runs.map((r) => r[k]))]));
