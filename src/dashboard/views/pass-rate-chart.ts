import { h, svg } from '../dom.js';
import { formatPercent } from '../format.js';
import type { PassRateChartData } from '../history-stats.js';

/**
 * Pass rate over time, one line per scenario (or board), drawn as SVG by hand:
 * a dozen points per line do not need a charting library. Lines differ by
 * colour (Okabe–Ito, safe for colour-blind readers), dash pattern and marker
 * shape, and every point has a tooltip; the tables below give the same numbers.
 */
const WIDTH = 880;
const HEIGHT = 240;
const MARGIN = { top: 12, right: 16, bottom: 30, left: 44 };
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9'];
const DASHES = ['', '7 4', '2 4', '10 4 2 4', '4 4', '12 3'];
type Marker = (x: number, y: number, colour: string) => SVGElement;
const MARKERS: Marker[] = [
  (x, y, c) => svg('circle', { cx: x, cy: y, r: 4.5, fill: c }),
  (x, y, c) => svg('rect', { x: x - 4, y: y - 4, width: 8, height: 8, fill: c }),
  (x, y, c) => svg('path', { d: `M${x},${y - 5.5}L${x + 5},${y + 4}L${x - 5},${y + 4}Z`, fill: c }),
  (x, y, c) => svg('path', { d: `M${x},${y - 5.5}L${x + 5},${y}L${x},${y + 5.5}L${x - 5},${y}Z`, fill: c }),
  (x, y, c) => svg('path', { d: `M${x - 4},${y - 4}L${x + 4},${y + 4}M${x - 4},${y + 4}L${x + 4},${y - 4}`, stroke: c, 'stroke-width': 2.5 }),
  (x, y, c) => svg('circle', { cx: x, cy: y, r: 4, fill: '#fff', stroke: c, 'stroke-width': 2.5 }),
];

export function passRateChart(data: PassRateChartData | null, seriesLabel: string): HTMLElement {
  if (!data || !data.series.length) return h('p', { class: 'muted', text: 'No judged runs in this range: nothing to chart.' });
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const buckets = Math.max(1, Math.round((data.end - data.start) / data.bucketMs));
  // Points sit in the middle of their bucket.
  const x = (at: number) => MARGIN.left + ((at - data.start + data.bucketMs / 2) / (buckets * data.bucketMs)) * plotW;
  const y = (rate: number) => MARGIN.top + (1 - rate) * plotH;
  const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', role: 'img', 'aria-label': `Pass rate per ${seriesLabel} over time, ${data.series.length} lines` });
  for (const rate of [0, 0.25, 0.5, 0.75, 1]) {
    chart.append(
      svg('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(rate), y2: y(rate), class: 'grid' }),
      svg('text', { x: MARGIN.left - 6, y: y(rate) + 4, 'text-anchor': 'end', class: 'axis' }, formatPercent(rate)),
    );
  }
  const every = Math.max(1, Math.ceil(buckets / 8));
  for (let i = 0; i < buckets; i += every) {
    const at = data.start + i * data.bucketMs;
    chart.append(svg('text', { x: x(at), y: HEIGHT - 10, 'text-anchor': 'middle', class: 'axis' }, bucketLabel(at, data.bucketMs)));
  }
  data.series.forEach((series, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const points = series.points.filter((p) => p.rate !== null);
    if (points.length > 1) {
      chart.append(
        svg('polyline', {
          points: points.map((p) => `${x(p.at).toFixed(1)},${y(p.rate!).toFixed(1)}`).join(' '),
          fill: 'none',
          stroke: colour,
          'stroke-width': 2,
          ...(DASHES[i % DASHES.length] ? { 'stroke-dasharray': DASHES[i % DASHES.length]! } : {}),
        }),
      );
    }
    for (const p of points) {
      const marker = MARKERS[i % MARKERS.length]!(x(p.at), y(p.rate!), colour);
      marker.append(svg('title', {}, `${series.key} · ${bucketLabel(p.at, data.bucketMs)} · ${p.passed} of ${p.judged} passed (${formatPercent(p.rate)})`));
      chart.append(marker);
    }
  });
  const legend = h(
    'ul',
    { class: 'legend' },
    ...data.series.map((series, i) => {
      const colour = COLOURS[i % COLOURS.length]!;
      const swatch = svg('svg', { viewBox: '0 0 30 12', width: 30, height: 12, 'aria-hidden': 'true' });
      swatch.append(svg('line', { x1: 0, x2: 30, y1: 6, y2: 6, stroke: colour, 'stroke-width': 2, ...(DASHES[i % DASHES.length] ? { 'stroke-dasharray': DASHES[i % DASHES.length]! } : {}) }), MARKERS[i % MARKERS.length]!(15, 6, colour));
      const passed = series.points.reduce((n, p) => n + p.passed, 0);
      return h('li', {}, swatch, ` ${series.key} `, h('span', { class: 'muted', text: `${formatPercent(passed / series.judged)} of ${series.judged}` }));
    }),
  );
  return h('figure', { class: 'chart-figure' }, chart, h('figcaption', {}, legend, h('span', { class: 'muted small', text: `one point per ${bucketName(data.bucketMs)}; runs that were not judged (infra errors, cancelled) are left out` })));
}

function bucketLabel(at: number, bucketMs: number): string {
  const d = new Date(at);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (bucketMs >= 86_400_000) return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function bucketName(bucketMs: number): string {
  if (bucketMs >= 86_400_000) return `${bucketMs / 86_400_000} day${bucketMs > 86_400_000 ? 's' : ''}`;
  if (bucketMs >= 3_600_000) return `${bucketMs / 3_600_000} h`;
  return `${bucketMs / 60_000} min`;
}
