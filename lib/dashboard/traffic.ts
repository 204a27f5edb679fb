/**
 * Traffic over time for one rollout, from its timeline: each entry saying `traffic → {"blue":90,"green":10}` (or
 * `rolling back to {…}`) is a split the rollout asked the endpoint for at that moment. Drawn as an inline SVG step chart
 * (one line per deployment), with a table of the same points for readers who do not see the chart.
 */
import type { TimelineEntry } from '../../orchestrations/contract';
import { html, type SafeHtml } from '../web/html';

export interface TrafficPoint {
  at: string;
  traffic: Record<string, number>;
}

/** Anywhere in a note: a progressive rollout says `step 2/3: canary; traffic → {…}`. */
const SPLIT = /(?:traffic → |rolling back to )(\{[^{}]*\})/;

/** The splits a timeline asked for, in order; entries that are not a traffic change are skipped. */
export function trafficPoints(timeline: readonly TimelineEntry[]): TrafficPoint[] {
  const points: TrafficPoint[] = [];
  for (const entry of timeline) {
    const match = SPLIT.exec(entry.note);
    if (!match || Number.isNaN(Date.parse(entry.at))) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(match[1]!);
    } catch {
      continue;
    }
    if (typeof parsed !== 'object' || parsed === null) continue;
    const traffic = Object.fromEntries(
      Object.entries(parsed).filter(
        (kv): kv is [string, number] => typeof kv[1] === 'number' && Number.isFinite(kv[1]),
      ),
    );
    points.push({ at: entry.at, traffic });
  }
  return points;
}

const WIDTH = 640;
const HEIGHT = 220;
const PAD = { left: 44, right: 16, top: 16, bottom: 36 };
/** Blue and green as their names say, dark enough for 4.5:1 on white; anything else in grey. */
const COLOURS: Record<string, string> = { blue: '#1d4ed8', green: '#15803d' };
const OTHER = '#4b5563';

const clock = (iso: string) => new Date(iso).toISOString().slice(11, 19);

/**
 * The chart of `points` up to `until` (the rollout's end, or now while it runs). Each deployment's line holds its
 * share until the next change.
 */
export function trafficChart(points: readonly TrafficPoint[], until: string, label: string): SafeHtml {
  if (points.length === 0) return html``;
  const start = Date.parse(points[0]!.at);
  const end = Math.max(Date.parse(until), Date.parse(points.at(-1)!.at), start + 1000);
  const x = (iso: string) => PAD.left + ((Date.parse(iso) - start) / (end - start)) * (WIDTH - PAD.left - PAD.right);
  const y = (percent: number) => PAD.top + (1 - percent / 100) * (HEIGHT - PAD.top - PAD.bottom);
  const slots = [...new Set(points.flatMap((p) => Object.keys(p.traffic)))].sort();
  const endX = x(new Date(end).toISOString());
  const lines = slots.map((slot) => {
    const coordinates: string[] = [];
    points.forEach((point, index) => {
      const share = point.traffic[slot] ?? 0;
      const from = x(point.at);
      const to = index + 1 < points.length ? x(points[index + 1]!.at) : endX;
      coordinates.push(`${from.toFixed(1)},${y(share).toFixed(1)}`, `${to.toFixed(1)},${y(share).toFixed(1)}`);
    });
    const colour = COLOURS[slot] ?? OTHER;
    return html`<polyline
      fill="none"
      stroke="${colour}"
      stroke-width="3"
      points="${coordinates.join(' ')}"
      ${slot === 'green' ? html`stroke-dasharray="8 4"` : ''}
    />`;
  });
  const legend = slots.map(
    (slot, index) =>
      html`<text x="${PAD.left + 8 + index * 120}" y="${HEIGHT - 6}" fill="${COLOURS[slot] ?? OTHER}">■ ${slot}</text>`,
  );
  const grid = [0, 50, 100].map(
    (percent) =>
      html`<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(percent)}" y2="${y(percent)}" stroke="#d1d5db" />
        <text x="${PAD.left - 6}" y="${y(percent) + 4}" text-anchor="end">${percent} %</text>`,
  );
  const summary = points
    .map(
      (p) =>
        `${clock(p.at)}: ${Object.entries(p.traffic)
          .map(([s, v]) => `${s} ${v} %`)
          .join(', ')}`,
    )
    .join('; ');
  return html`<figure class="chart">
    <svg
      viewBox="0 0 ${WIDTH} ${HEIGHT}"
      width="${WIDTH}"
      height="${HEIGHT}"
      role="img"
      aria-label="${label}: ${summary}"
      font-size="12"
      font-family="system-ui, sans-serif"
    >
      ${grid}
      <text x="${PAD.left}" y="${HEIGHT - 20}">${clock(points[0]!.at)}</text>
      <text x="${WIDTH - PAD.right}" y="${HEIGHT - 20}" text-anchor="end">${clock(new Date(end).toISOString())}</text>
      ${lines} ${legend}
    </svg>
    <figcaption>${label} (UTC)</figcaption>
    <table class="compact">
      <caption class="visually-hidden">
        ${label}, each change
      </caption>
      <thead>
        <tr>
          <th scope="col">At (UTC)</th>
          ${slots.map((s) => html`<th scope="col">${s}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${points.map(
          (p) =>
            html`<tr>
              <td>${clock(p.at)}</td>
              ${slots.map((s) => html`<td>${p.traffic[s] ?? 0} %</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
  </figure>`;
}
