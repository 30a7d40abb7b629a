import { useState } from 'preact/hooks';
import { api, itemsOf, query } from '../../lib/api';
import { formatTime } from '../../lib/format';
import { t } from '../../lib/i18n';
import { ErrorText, PagedList, useLang, usePaged } from '../../lib/ui';
import type { Ingestion, Orchestration } from '../../lib/types';
import { navigate, usePath } from '../router';

/** Ingestions: the list (GET /api/ingestions, with filters) and one by id or source id. */
export function IngestionsPage() {
  useLang();
  const { search } = usePath();
  const status = search.get('status') ?? '';
  const channel = search.get('channel') ?? '';
  const list = usePaged<Ingestion>(`/api/ingestions${query({ status, channel, limit: 50 })}`);
  return (
    <>
      <h1>{t('ingestions.title')}</h1>
      <Lookup label={t('ingestions.lookup')} load={async (id) => {
        const one = /^[0-9a-f-]{36}$/i.test(id) ? await api<Ingestion>(`/api/ingestions/${id}`) : itemsOf<Ingestion>(await api(`/api/ingestions${query({ sourceId: id })}`))[0];
        return one ? <IngestionTable items={[one]} /> : <p class="muted">{t('common.notFound')}</p>;
      }} />
      <div class="row card" role="group" aria-label={t('common.filter')}>
        <label>{t('common.status')}{' '}
          <select value={status} onChange={(e) => navigate(`/ingestions${query({ status: (e.target as HTMLSelectElement).value, channel })}`)}>
            <option value="">{t('common.all')}</option>
            {['queued', 'processed', 'review', 'rejected', 'failed'].map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>{t('field.channel')}{' '}
          <select value={channel} onChange={(e) => navigate(`/ingestions${query({ status, channel: (e.target as HTMLSelectElement).value })}`)}>
            <option value="">{t('common.all')}</option>
            {['crm', 'wecom', 'wechat', 'erp'].map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
      </div>
      <PagedList list={list}>{(items) => <IngestionTable items={items} />}</PagedList>
    </>
  );
}

function IngestionTable({ items }: { items: Ingestion[] }) {
  if (items.length === 0) return <p class="muted">{t('common.none')}</p>;
  return (
    <table class="card">
      <thead><tr><th>{t('field.id')}</th><th>{t('field.channel')}</th><th>{t('common.status')}</th><th>{t('field.entity')}</th><th>{t('field.createdAt')}</th><th>{t('field.lastError')}</th></tr></thead>
      <tbody>
        {items.map((i) => (
          <tr key={i.ingestionId} data-status={i.status}>
            <td><code>{i.ingestionId}</code></td><td>{i.channel}</td><td>{i.status}</td>
            <td>{i.entityId ? <a href={`/${i.entityType}s/${i.entityId}`}>{i.entityType}</a> : i.entityType ?? ''}</td>
            <td>{formatTime(i.receivedAt)}</td>
            <td class="error-text">{(i.errors ?? []).map((e) => [e.field, e.message].filter(Boolean).join(': ')).join('; ')}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Orchestrations: the list (GET /api/orchestrations?status=&name=) and one instance with its status. */
export function OrchestrationsPage() {
  useLang();
  const { search } = usePath();
  const status = search.get('status') ?? '';
  const name = search.get('name') ?? '';
  const list = usePaged<Orchestration>(`/api/orchestrations${query({ status, name, limit: 50 })}`);
  return (
    <>
      <h1>{t('orchestrations.title')}</h1>
      <Lookup label={t('orchestrations.lookup')} load={async (id) => <OrchestrationTable items={[await api<Orchestration>(`/api/orchestrations/${encodeURIComponent(id)}`)]} detail />} />
      <div class="row card" role="group" aria-label={t('common.filter')}>
        <label>{t('common.status')}{' '}
          <select value={status} onChange={(e) => navigate(`/orchestrations${query({ status: (e.target as HTMLSelectElement).value, name })}`)}>
            <option value="">{t('common.all')}</option>
            {['Pending', 'Running', 'Completed', 'Failed', 'Terminated'].map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
      </div>
      <PagedList list={list}>{(items) => <OrchestrationTable items={items} />}</PagedList>
    </>
  );
}

function OrchestrationTable({ items, detail }: { items: Orchestration[]; detail?: boolean }) {
  if (items.length === 0) return <p class="muted">{t('common.none')}</p>;
  return (
    <table class="card">
      <thead><tr><th>{t('field.name')}</th><th>{t('field.id')}</th><th>{t('common.status')}</th><th>{t('field.createdAt')}</th><th>{t('field.updatedAt')}</th></tr></thead>
      <tbody>
        {items.map((o) => (
          <>
            <tr key={o.instanceId}><td>{o.name}</td><td><code>{o.instanceId}</code></td><td>{o.runtimeStatus}</td><td>{formatTime(o.createdTime)}</td><td>{formatTime(o.lastUpdatedTime)}</td></tr>
            {detail && <tr><td colSpan={5}><pre>{JSON.stringify({ customStatus: o.customStatus, output: o.output }, null, 2)}</pre></td></tr>}
          </>
        ))}
      </tbody>
    </table>
  );
}

function Lookup({ label, load }: { label: string; load: (id: string) => Promise<preact.ComponentChildren> }) {
  const [id, setId] = useState('');
  const [result, setResult] = useState<preact.ComponentChildren>(null);
  const [error, setError] = useState<unknown>(null);
  return (
    <div class="card">
      <form class="row" onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try { setResult(await load(id.trim())); } catch (err) { setResult(null); setError(err); }
      }}>
        <input aria-label={label} placeholder={label} value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} />
        <button type="submit">{t('common.search')}</button>
      </form>
      {error ? <ErrorText error={error} /> : result}
    </div>
  );
}
