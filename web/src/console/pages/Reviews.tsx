import { useState } from 'preact/hooks';
import { api, query } from '../../lib/api';
import { formatTime } from '../../lib/format';
import { t, type Key } from '../../lib/i18n';
import { matchingFields, recordRows } from '../../lib/review';
import { ErrorText, Loaded, useAsync, useLang } from '../../lib/ui';
import type { Ingestion, ReviewItem } from '../../lib/types';

const FIELD_LABELS: Record<string, Key> = {
  name: 'field.name', company: 'field.company', mobile: 'field.mobile', email: 'field.email', phone: 'field.phone', city: 'field.city',
  creditCode: 'field.creditCode', title: 'field.title', channel: 'field.channel', sourceId: 'field.sourceId',
};

export function ReviewsPage() {
  useLang();
  const list = useAsync(() => api<ReviewItem[]>(`/api/identity/reviews${query({ status: 'open', limit: 50 })}`), []);
  return (
    <>
      <h1>{t('reviews.title')}</h1>
      <Loaded state={list}>
        {(items) => items.length === 0 ? <p class="muted">{t('reviews.empty')}</p> : (
          <>{items.map((item) => <Review key={item.reviewId} item={item} />)}</>
        )}
      </Loaded>
    </>
  );
}

async function settle(ingestionId: string): Promise<Ingestion> {
  for (let i = 0; i < 40; i++) {
    const s = await api<Ingestion>(`/api/ingestions/${ingestionId}`);
    if (s.status !== 'queued' && s.status !== 'review') return s;
    await new Promise((r) => setTimeout(r, 500));
  }
  return api<Ingestion>(`/api/ingestions/${ingestionId}`);
}

function Review({ item }: { item: ReviewItem }) {
  useLang();
  const [done, setDone] = useState<Ingestion | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const decide = async (body: { decision: 'merge'; targetId: string } | { decision: 'create' }) => {
    setBusy(true);
    try {
      await api(`/api/identity/reviews/${item.reviewId}/resolve`, { method: 'POST', body });
      setDone(await settle(item.ingestionId));
    } catch (e) { setError(e); } finally { setBusy(false); }
  };
  const rows = recordRows(item.record.record);
  return (
    <section class="card review" aria-label={`${t('reviews.incoming')} ${item.reviewId}`} data-review-id={item.reviewId}>
      <div>
        <h2>{t('reviews.incoming')}</h2>
        <p class="muted">{item.entityType} · {formatTime(item.createdAt)}</p>
        <table>
          <tbody>
            {rows.map(([k, v]) => <tr key={k}><th scope="row">{FIELD_LABELS[k] ? t(FIELD_LABELS[k]) : k}</th><td>{v}</td></tr>)}
            {item.record.companyShortName && <tr><th scope="row">{t('field.shortName')}</th><td>{item.record.companyShortName}</td></tr>}
          </tbody>
        </table>
      </div>
      <div>
        <h2>{t('reviews.candidates')}</h2>
        {done ? <p class="notice" role="status" data-ingestion-status={done.status}>{t('reviews.decided', { status: done.status })}</p> : (
          <table>
            <thead><tr><th>{t('field.name')}</th><th>{t('field.city')}</th><th>{t('field.creditCode')}</th><th>{t('field.similarity')}</th><th /></tr></thead>
            <tbody>
              {item.candidates.map((c) => {
                const same = matchingFields(item.record, c);
                return (
                  <tr key={c.accountId}>
                    <td class={same.has('name') ? 'hl' : ''}><a href={`/accounts/${c.accountId}`}>{c.name}</a></td>
                    <td class={same.has('city') ? 'hl' : ''}>{c.city ?? ''}</td>
                    <td class={same.has('creditCode') ? 'hl' : ''}>{c.creditCode ?? ''}</td>
                    <td>{Math.round(c.similarity * 100)}%</td>
                    <td><button type="button" disabled={busy} onClick={() => decide({ decision: 'merge', targetId: c.accountId })} aria-label={`${t('reviews.merge')} ${c.name}`}>{t('reviews.merge')}</button></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        {!done && <p><button type="button" disabled={busy} onClick={() => decide({ decision: 'create' })}>{t('reviews.create')}</button></p>}
        {error ? <ErrorText error={error} /> : null}
      </div>
    </section>
  );
}
