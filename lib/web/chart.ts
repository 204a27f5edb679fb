/**
 * The evidence chart: a bar chart of the paired differences, as inline SVG made from numbers only (no text from a
 * request reaches it unescaped). Bars right of zero are rows the challenger did better on.
 */
import type { PairedDifferences } from '../domain/evidence-record';
import { html, type SafeHtml } from './html';

const WIDTH = 560;
const HEIGHT = 200;
const PAD = { left: 44, right: 12, top: 12, bottom: 40 };

const fmt = (n: number) => String(Number(n.toPrecision(3)));

/** Colours meet 3:1 against white for graphics (WCAG 1.4.11). */
const BETTER = '#0a6b2c';
const WORSE = '#a4161a';
const SAME = '#5c5c5c';

export function differencesChart(d: PairedDifferences, metricLabel: string): SafeHtml {
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const max = Math.max(1, ...d.counts);
  const barW = plotW / d.counts.length;
  const measure =
    d.measure === 'correctness-change'
      ? 'rows where the challenger was right and the champion wrong (right), and the reverse (left)'
      : `reduction in absolute error per row, champion minus challenger (${metricLabel}; right of 0: challenger closer)`;
  const summary =
    `${d.better} rows better, ${d.worse} worse, ${d.same} the same for the challenger; ` +
    `mean difference ${fmt(d.mean)}.`;
  const bars = d.counts.map((count, i) => {
    const lo = d.edges[i] as number;
    const hi = d.edges[i + 1] as number;
    const colour = lo <= 0 && hi >= 0 ? SAME : lo > 0 ? BETTER : WORSE;
    const h = (count / max) * plotH;
    const x = PAD.left + i * barW;
    const y = PAD.top + plotH - h;
    const label =
      d.measure === 'correctness-change'
        ? ['challenger wrong, champion right', 'both the same', 'challenger right, champion wrong'][i]
        : `${fmt(lo)} to ${fmt(hi)}`;
    return html`<rect
      x="${x.toFixed(1)}"
      y="${y.toFixed(1)}"
      width="${Math.max(1, barW - 2).toFixed(1)}"
      height="${h.toFixed(1)}"
      fill="${colour}"
      ><title>${label}: ${count} rows</title></rect
    >`;
  });
  const ticks = [0, Math.round(max / 2), max].filter((v, i, all) => all.indexOf(v) === i);
  const first = d.edges[0] as number;
  const last = d.edges[d.edges.length - 1] as number;
  const zeroX = PAD.left + ((0 - first) / (last - first)) * plotW;
  const xLabels =
    d.measure === 'correctness-change'
      ? html`<text x="${PAD.left + barW / 2}" y="${HEIGHT - 22}" text-anchor="middle">worse</text>
          <text x="${PAD.left + 1.5 * barW}" y="${HEIGHT - 22}" text-anchor="middle">same</text>
          <text x="${PAD.left + 2.5 * barW}" y="${HEIGHT - 22}" text-anchor="middle">better</text>`
      : html`<text x="${PAD.left}" y="${HEIGHT - 22}" text-anchor="start">${fmt(first)}</text>
          <text x="${zeroX.toFixed(1)}" y="${HEIGHT - 22}" text-anchor="middle">0</text>
          <text x="${WIDTH - PAD.right}" y="${HEIGHT - 22}" text-anchor="end">${fmt(last)}</text>
          <line
            x1="${zeroX.toFixed(1)}"
            x2="${zeroX.toFixed(1)}"
            y1="${PAD.top}"
            y2="${PAD.top + plotH}"
            stroke="#1b1b1b"
            stroke-dasharray="4 3"
          />`;
  return html`<figure class="chart">
    <svg
      id="differences-chart"
      role="img"
      aria-labelledby="chart-title chart-desc"
      viewBox="0 0 ${WIDTH} ${HEIGHT}"
      width="${WIDTH}"
      height="${HEIGHT}"
      xmlns="http://www.w3.org/2000/svg"
    >
      <title id="chart-title">Paired differences, challenger against champion</title>
      <desc id="chart-desc">${summary}</desc>
      <line
        x1="${PAD.left}"
        x2="${WIDTH - PAD.right}"
        y1="${PAD.top + plotH}"
        y2="${PAD.top + plotH}"
        stroke="#1b1b1b"
      />
      ${ticks.map((t) => html`<text x="${PAD.left - 6}" y="${(PAD.top + plotH - (t / max) * plotH + 4).toFixed(1)}" text-anchor="end">${t}</text>`)}
      ${bars} ${xLabels}
      <text x="${PAD.left + plotW / 2}" y="${HEIGHT - 4}" text-anchor="middle">rows per bin</text>
    </svg>
    <figcaption>${summary} Bars: ${measure}.</figcaption>
  </figure>`;
}
