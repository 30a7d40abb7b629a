import { useState } from 'preact/hooks';
import { api, itemsOf, query } from '../../lib/api';
import { formatTime, syncStateText } from '../../lib/format';
import { t } from '../../lib/i18n';
import { ErrorText, Loaded, useAsync, useLang } from '../../lib/ui';
import type { SyncTask } from '../../lib/types';
import { navigate, usePath } from '../router';

const STATUSES = ['failed', 'retrying', 'pending', 'succeeded'];

export function SyncPage() {
  useLang();
  const { search } = usePath();
  const status = search.get('status') ?? 'failed';
  const list = useAsync(async () => itemsOf<SyncTask>(await api(`/api/sync-tasks${query({ status: status || undefined, limit: 100 })}`)), [status]);
  return (
    <>
      <h1>{t('sync.title')}</h1>
      <div class="row card" role="group" aria-label={t('common.filter')}>
        <label>{t('common.status')}{' '}
          <select value={status} onChange={(e) => navigate(`/sync${query({ status: (e.target as HTMLSelectElement).value })}`)}>
            <option value="">{t('common.all')}</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <button type="button" onClick={list.reload}>{t('common.refresh')}</button>
      </div>
      <Loaded state={list}>
        {(tasks) => tasks.length === 0 ? <p class="muted">{t('common.none')}</p> : (
          <table class="card" aria-label={t('sync.title')}>
            <thead><tr><th>{t('field.target')}</th><th>{t('field.entity')}</th><th>{t('common.status')}</th><th>{t('field.attempts')}</th><th>{t('field.lastError')}</th><th>{t('field.updatedAt')}</th><th /></tr></thead>
            <tbody>{tasks.map((task) => <Row key={task.id} task={task} />)}</tbody>
          </table>
        )}
      </Loaded>
    </>
  );
}

function Row({ task }: { task: SyncTask }) {
  const [current, setCurrent] = useState(task);
  const [error, setError] = useState<unknown>(null);
  const redrive = async () => {
    try {
      await api(`/api/sync-tasks/${task.id}/retry`, { method: 'POST' });
      for (let i = 0; i < 30; i++) {
        const next = await api<SyncTask>(`/api/sync-tasks/${task.id}`);
        setCurrent(next);
        if (next.status === 'succeeded' || (next.status === 'failed' && next.updatedAt !== task.updatedAt && i > 0)) break;
        await new Promise((r) => setTimeout(r, 700));
      }
    } catch (e) { setError(e); }
  };
  return (
    <tr data-task-id={task.id} data-status={current.status}>
      <td>{current.target}</td>
      <td>{current.entityType === 'contact' ? <a href={`/contacts/${current.entityId}`}>{current.entityType}</a> : current.entityType}</td>
      <td class={`sync-state ${current.status}`}>{syncStateText(current)}</td>
      <td>{current.attempts}</td>
      <td class="error-text">{current.lastError ?? ''}</td>
      <td>{formatTime(current.updatedAt)}</td>
      <td>
        {current.status === 'failed' && <button type="button" onClick={redrive} aria-label={`${t('sync.redrive')} ${task.id}`}>{t('sync.redrive')}</button>}
        {error ? <ErrorText error={error} /> : null}
      </td>
    </tr>
  );
}
