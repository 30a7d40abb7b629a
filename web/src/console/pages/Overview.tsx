import { useMemo } from 'preact/hooks';
import { api, ApiError, itemsOf, query } from '../../lib/api';
import { counter, seriesOf } from '../../lib/charts';
import { formatTime } from '../../lib/format';
import { t } from '../../lib/i18n';
import { ErrorText, Loaded, useAsync, useLang } from '../../lib/ui';
import { LineChart } from './Chart';

interface Alert { rule?: string; level?: string; value?: number; threshold?: number; openedAt?: string; opened?: string; resolvedAt?: string | null }

export function OverviewPage() {
  useLang();
  const overview = useAsync(() => api<unknown>('/api/ops/overview'), []);
  const alerts = useAsync(async () => itemsOf<Alert>(await api(`/api/ops/alerts${query({ state: 'open' })}`)), []);
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
                <tr key={i}><td>{a.level}</td><td>{a.rule}</td><td>{a.value} / {a.threshold}</td><td>{formatTime(a.openedAt ?? a.opened)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

function Dashboard({ overview }: { overview: unknown }) {
  const charts = useMemo(() => ({
    ingested: seriesOf(overview, 'ingested', 'ingest', 'ingestRate'),
    failed: seriesOf(overview, 'failed', 'failures'),
    backlog: seriesOf(overview, 'backlog'),
    lag: seriesOf(overview, 'summaryLag', 'lag'),
    latency: seriesOf(overview, 'view360Latency', 'latency360', 'latency'),
  }), [overview]);
  return (
    <>
      <div class="grid3">
        <Stat label={t('overview.openReviews')} value={counter(overview, 'openReviews')} href="/reviews" />
        <Stat label={t('overview.failedSyncs')} value={counter(overview, 'failedSyncs')} href="/sync?status=failed" />
        <Stat label={t('overview.openAlerts')} value={counter(overview, 'openAlerts')} />
      </div>
      <div class="grid2">
        <LineChart title={t('overview.ingested')} data={charts.ingested} />
        <LineChart title={t('overview.failed')} data={charts.failed} />
        <LineChart title={t('overview.backlog')} data={charts.backlog} />
        <LineChart title={t('overview.lag')} data={charts.lag} />
        <LineChart title={t('overview.latency')} data={charts.latency} />
      </div>
    </>
  );
}

function Stat({ label, value, href }: { label: string; value: number | null; href?: string }) {
  const body = <><div class="label">{label}</div><div class="stat">{value ?? '—'}</div></>;
  return <div class="card">{href ? <a href={href} aria-label={label}>{body}</a> : body}</div>;
}
