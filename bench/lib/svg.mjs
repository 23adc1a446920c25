// The suite's chart as a self-contained SVG (no dependency): per workload, one
// row per target with two horizontal bars, server CPU µs per request (lower is
// better; for rows through nginx the front nginx's share stacked on, lighter)
// and requests/s (higher is better; a thin line spans min–max of the runs).
// Each workload has its own scales: a 1 MiB reply and a hello world differ 100×.
const COLORS = { tsgi: '#2563eb', node: '#6b7280', uwsgi: '#d97706', php: '#7c3aed', nginx: '#059669' };
const NAMES = { tsgi: 'tsgi', node: 'Node servers', uwsgi: 'uWSGI (python3)', php: 'php-fpm', nginx: 'nginx (ceiling)' };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (x, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
const short = (x) => (x >= 1e6 ? `${num(x / 1e6, 1)}M` : x >= 1e4 ? `${num(x / 1e3, 1)}k` : num(x));

/** { title, subtitle, groups: [{ title, rows: [{ label, family, via, cpu, extra, rps, rpsMin, rpsMax }] }] } → SVG text. */
export function renderChart({ title, subtitle, groups }) {
  const W = 1120, LABEL = 250, GAP = 40, TEXT = 78;
  const A0 = LABEL + 10, AW = 400, B0 = A0 + AW + GAP, BW = W - B0 - 20;
  const ROW = 17, BAR = 11, HEAD = 30;
  const out = [];
  let y = 74;
  out.push(`<text x="${A0}" y="${y}" class="panel">server CPU µs per request — lower is better</text>`,
    `<text x="${B0}" y="${y}" class="panel">requests/s — higher is better (line: min–max)</text>`);
  y += 10;
  for (const g of groups) {
    const maxCpu = Math.max(...g.rows.map((r) => r.cpu + (r.extra || 0)).filter(Number.isFinite), 1e-9);
    const maxRps = Math.max(...g.rows.map((r) => Math.max(r.rps, r.rpsMax || 0)).filter(Number.isFinite), 1e-9);
    const sa = (AW - TEXT) / maxCpu, sb = (BW - TEXT) / maxRps;
    y += HEAD;
    out.push(`<text x="10" y="${y - 9}" class="group">${esc(g.title)}</text>`,
      `<line x1="10" x2="${W - 10}" y1="${y - 4}" y2="${y - 4}" class="rule"/>`);
    for (const r of g.rows) {
      const c = COLORS[r.family] ?? '#6b7280';
      const mid = y + ROW / 2;
      const top = mid - BAR / 2;
      out.push(`<text x="${LABEL}" y="${mid + 4}" class="label" text-anchor="end">${esc(r.label)}</text>`);
      const a = Math.max(0.5, r.cpu * sa), ax = Math.max(0, (r.extra || 0) * sa);
      out.push(`<rect x="${A0}" y="${top}" width="${a.toFixed(1)}" height="${BAR}" fill="${c}"/>`);
      if (ax > 0) out.push(`<rect x="${(A0 + a).toFixed(1)}" y="${top}" width="${ax.toFixed(1)}" height="${BAR}" fill="${c}" opacity="0.3"/>`);
      out.push(`<text x="${(A0 + a + ax + 4).toFixed(1)}" y="${mid + 4}" class="value">${num(r.cpu, r.cpu < 100 ? 1 : 0)}${r.extra ? ` + ${num(r.extra, 1)}` : ''}</text>`);
      const b = Math.max(0.5, r.rps * sb);
      out.push(`<rect x="${B0}" y="${top}" width="${b.toFixed(1)}" height="${BAR}" fill="${c}"/>`);
      if (Number.isFinite(r.rpsMin) && Number.isFinite(r.rpsMax)) {
        out.push(`<line x1="${(B0 + r.rpsMin * sb).toFixed(1)}" x2="${(B0 + r.rpsMax * sb).toFixed(1)}" y1="${mid}" y2="${mid}" class="range"/>`);
      }
      out.push(`<text x="${(B0 + Math.max(b, (r.rpsMax || 0) * sb) + 4).toFixed(1)}" y="${mid + 4}" class="value">${short(r.rps)}</text>`);
      y += ROW;
    }
  }
  y += 24;
  let x = 10;
  for (const [k, n] of Object.entries(NAMES)) {
    out.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${COLORS[k]}"/>`, `<text x="${x + 17}" y="${y}" class="label">${esc(n)}</text>`);
    x += 40 + n.length * 7;
  }
  out.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="#6b7280" opacity="0.3"/>`,
    `<text x="${x + 17}" y="${y}" class="label">the front nginx's CPU per request ("nginx →" rows)</text>`);
  const H = y + 16;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<style>
  .title { font-size: 17px; font-weight: bold; fill: #111827; }
  .sub { font-size: 11px; fill: #4b5563; }
  .panel { font-size: 12px; font-weight: bold; fill: #374151; }
  .group { font-size: 13px; font-weight: bold; fill: #111827; }
  .label { font-size: 11.5px; fill: #1f2937; }
  .value { font-size: 10.5px; fill: #374151; }
  .rule { stroke: #d1d5db; stroke-width: 1; }
  .range { stroke: #111827; stroke-width: 1.2; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="10" y="26" class="title">${esc(title)}</text>
<text x="10" y="46" class="sub">${esc(subtitle.length > 190 ? `${subtitle.slice(0, 187)}…` : subtitle)}</text>
${out.join('\n')}
</svg>
`;
}
