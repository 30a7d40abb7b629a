import { useMemo } from 'preact/hooks';
import { api, ApiError, query } from '../../lib/api';
import { toChartData, toSeconds, type Overview } from '../../lib/charts';
import { formatTime } from '../../lib/format';
import { t } from '../../lib/i18n';
import { ErrorText, Loaded, useAsync, useLang } from '../../lib/ui';
import { LineChart } from './Chart';

interface Alert { rule: string; level: string; value: number; threshold: number; openedAt: string; resolvedAt: string | null }

export function OverviewPage() {
  useLang();
  const overview = useAsync(() => api<Overview>('/api/ops/overview'), []);
  const alerts = useAsync(async () => (await api<{ alerts: Alert[] }>(`/api/ops/alerts${query({ state: 'open' })}`)).alerts, []);
  return (
    <>
      <h1>{t('overview.title')}</h1>
      <Loaded state={overview}>{(o) => <Dashboard overview={o} />}</Loaded>
      <section class="card" aria-labelledby="alerts-h">
        <h2 id="alerts-h">{t('overview.alerts')}</h2>
        {alerts.error instanceof ApiError || alerts.error ? <ErrorText error={alerts.error} /> : (
          <table>
            <thead><tr><th>{t('field.grade')}</th><th>{t('field.name')}</th><th>{t('field.amount')}</th><th>{t('field.at')}</th></tr></thead>
            <tbody>
              {(alerts.data ?? []).map((a, i) => (
                <tr key={i}><td>{a.level}</td><td>{a.rule}</td><td>{a.value} / {a.threshold}</td><td>{formatTime(a.openedAt)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

function Dashboard({ overview }: { overview: Overview }) {
  const charts = useMemo(() => ({
    ingested: toChartData(overview.series.ingested),
    failed: toChartData(overview.series.failed),
    backlog: toChartData(overview.series.backlog),
    lag: toChartData(overview.series.summaryLagMs),
    latency: toChartData(overview.series.viewLatencyMs),
  }), [overview]);
  const from = toSeconds(overview.from);
  const to = toSeconds(overview.to);
  const range: [number, number] | undefined = from !== null && to !== null ? [from, to] : undefined;
  return (
    <>
      <div class="grid3">
        <Stat label={t('overview.openReviews')} value={overview.openReviews} href="/reviews" />
        <Stat label={t('overview.failedSyncs')} value={overview.failedSyncs.last24Hours} href="/sync?status=failed" />
        <Stat label={t('overview.openAlerts')} value={overview.openAlerts.length} />
      </div>
      <div class="grid2">
        <LineChart title={t('overview.ingested')} data={charts.ingested} range={range} />
        <LineChart title={t('overview.failed')} data={charts.failed} range={range} />
        <LineChart title={t('overview.backlog')} data={charts.backlog} range={range} />
        <LineChart title={t('overview.lag')} data={charts.lag} range={range} />
        <LineChart title={t('overview.latency')} data={charts.latency} range={range} />
      </div>
    </>
  );
}

function Stat({ label, value, href }: { label: string; value: number | null; href?: string }) {
  const body = <><div class="label">{label}</div><div class="stat">{value ?? '—'}</div></>;
  return <div class="card">{href ? <a href={href} aria-label={label}>{body}</a> : body}</div>;
}
