import { useEffect, useRef } from 'preact/hooks';
import type { ChartData } from '../../lib/charts';
import { hasData } from '../../lib/charts';
import { t } from '../../lib/i18n';

const COLORS = ['#0b6bcb', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bc4c00', '#0550ae'];

/** A uPlot line chart (loaded on first use, so the console's first load stays small). */
/** `range`: the x axis's [from, to] in unix seconds (the overview's 24 h), so one minute of data is not stretched over years. */
export function LineChart({ title, data, range }: { title: string; data: ChartData; range?: [number, number] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current || !hasData(data)) return;
    let plot: { destroy(): void } | undefined;
    let live = true;
    Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(([{ default: UPlot }]) => {
      if (!live || !box.current) return;
      const width = Math.max(300, box.current.clientWidth);
      plot = new UPlot({
        width, height: 180, title: undefined,
        series: [{}, ...data.groups.map((g, i) => ({ label: g, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))],
        scales: range ? { x: { time: true, range: () => range } } : undefined,
        axes: [{}, { size: 50 }],
      }, [data.xs, ...data.ys] as never, box.current);
      box.current.dataset.drawn = 'true';
    });
    return () => { live = false; plot?.destroy(); };
  }, [data, range?.[0], range?.[1]]);
  return (
    <figure class="card chart" aria-label={title}>
      <figcaption><h2>{title}</h2></figcaption>
      {hasData(data) ? <div ref={box} role="img" aria-label={`${title}: ${data.groups.join(', ')}`} /> : <p class="muted">{t('common.none')}</p>}
    </figure>
  );
}
