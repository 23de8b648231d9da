import type { OutcomeSeries } from "../../../store/activity";

const WIDTH = 900;
const HEIGHT = 150;
const LINES = [
  { outcome: "completed", label: "completed", color: "#2e8b57" },
  { outcome: "retried", label: "retried", color: "#e67e22" },
  { outcome: "dead_lettered", label: "dead-lettered", color: "#c0392b" },
] as const;

/** One subscription's completed / retried / dead-lettered per second over the buckets shown, as SVG. */
export function OutcomeChart(props: { subscription: string; series: OutcomeSeries }) {
  const { subscription, series } = props;
  const counts = series.bySubscription[subscription] ?? {};
  const perSecond = (outcome: string) =>
    (counts[outcome] ?? series.starts.map(() => 0)).map((count) => count / (series.bucketMs / 1000));
  const lines = LINES.map((line) => ({ ...line, rates: perSecond(line.outcome) }));
  const top = Math.max(1, ...lines.flatMap((line) => line.rates));
  const x = (index: number) => (index / Math.max(1, series.starts.length - 1)) * WIDTH;
  const y = (rate: number) => HEIGHT - (rate / top) * (HEIGHT - 10);
  const latest = lines.map((line) => `${line.label} ${format(line.rates.at(-1) ?? 0)}/s`).join(", ");
  const totals = LINES.map(
    (line) => `${line.label} ${(counts[line.outcome] ?? []).reduce((sum, count) => sum + count, 0)}`,
  ).join(", ");
  return (
    <figure>
      <figcaption>
        <strong>{subscription}</strong> <span class="muted">per second, last 15 minutes (now: {latest})</span>
      </figcaption>
      <svg
        class="chart"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${subscription}: now ${latest}; peak ${format(top)}/s; in 15 minutes ${totals}`}
      >
        {lines.map((line) => (
          <polyline
            fill="none"
            stroke={line.color}
            stroke-width="2"
            vector-effect="non-scaling-stroke"
            points={line.rates.map((rate, index) => `${x(index).toFixed(1)},${y(rate).toFixed(1)}`).join(" ")}
          />
        ))}
      </svg>
      <div class="legend">
        {lines.map((line) => (
          <span style={`color: ${line.color}`}>■ {line.label}</span>
        ))}
        <span class="muted">peak {format(top)}/s</span>
      </div>
    </figure>
  );
}

const format = (rate: number) => (rate >= 10 ? rate.toFixed(0) : rate.toFixed(1));
