// The range graph: uPlot. Chosen for being small (~50 kB), canvas-based and fast with
// many series: one typed array per series, no DOM node per point.
import uPlot from 'uplot';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
  '#7f7f7f', '#bcbd22', '#17becf'];

// Matrix result → uPlot's columnar data on the query's step grid (null where absent).
export function toColumns(result, start, end, step) {
  const n = Math.floor((end - start) / step) + 1;
  const xs = new Float64Array(n);
  for (let i = 0; i < n; i++) xs[i] = start + i * step;
  const cols = [xs];
  for (const s of result) {
    const ys = new Array(n).fill(null);
    for (const [t, v] of s.values || []) {
      const i = Math.round((t - start) / step);
      const f = parseFloat(v); // NaN and ±Inf cannot be drawn: gaps, as Prometheus's UI shows
      if (i >= 0 && i < n && Number.isFinite(f)) ys[i] = f;
    }
    cols.push(ys);
  }
  return cols;
}

let current = null;

export function drawGraph(container, result, start, end, step, labelOf) {
  const t0 = performance.now();
  if (current) {
    current.destroy();
    current = null;
  }
  container.replaceChildren();
  const data = toColumns(result, start, end, step);
  const series = [{}, ...result.map((s, i) => ({
    label: labelOf(s.metric),
    stroke: PALETTE[i % PALETTE.length],
    width: 1,
    points: { show: false },
    spanGaps: false,
  }))];
  const width = Math.max(300, container.clientWidth || 900);
  current = new uPlot({ width, height: 380, series, legend: { show: true },
    scales: { x: { time: true } } }, data, container);
  const ms = performance.now() - t0;
  container.dataset.series = String(result.length);
  container.dataset.renderMs = ms.toFixed(1);
  window.tidewellStats = { ...(window.tidewellStats || {}),
    lastGraph: { series: result.length, points: data[0].length, renderMs: ms } };
  return current;
}
