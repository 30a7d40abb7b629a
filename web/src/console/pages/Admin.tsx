import { useState } from 'preact/hooks';
import { api, itemsOf, query } from '../../lib/api';
import { formatTime } from '../../lib/format';
import { t } from '../../lib/i18n';
import { ErrorText, Loaded, PagedList, useAsync, useLang, usePaged } from '../../lib/ui';
import { navigate, usePath } from '../router';

const ROLES = ['sales', 'manager', 'steward', 'ops', 'auditor', 'admin'];

interface Staff { userId: string; name?: string | null; department?: string | null; roles: string[]; active: boolean }

export function StaffPage() {
  useLang();
  const list = useAsync(async () => itemsOf<Staff>(await api('/api/admin/staff')), []);
  const [userId, setUserId] = useState('');
  const [error, setError] = useState<unknown>(null);
  const setRoles = async (id: string, roles: string[]) => {
    try { await api(`/api/admin/staff/${encodeURIComponent(id)}`, { method: 'PUT', body: { roles } }); setError(null); list.reload(); } catch (e) { setError(e); }
  };
  return (
    <>
      <h1>{t('admin.staff')}</h1>
      <form class="row card" onSubmit={(e) => { e.preventDefault(); if (userId.trim()) { setRoles(userId.trim(), ['sales']); setUserId(''); } }}>
        <input aria-label="WeCom userid" placeholder="WeCom userid" value={userId} onInput={(e) => setUserId((e.target as HTMLInputElement).value)} />
        <button type="submit">{t('common.add')}</button>
      </form>
      {error ? <ErrorText error={error} /> : null}
      <Loaded state={list}>
        {(staff) => (
          <table class="card">
            <thead><tr><th>userid</th><th>{t('field.name')}</th><th>{t('field.department')}</th>{ROLES.map((r) => <th key={r}>{r}</th>)}</tr></thead>
            <tbody>
              {staff.map((s) => (
                <tr key={s.userId}>
                  <td>{s.userId}</td><td>{s.name ?? ''}</td><td>{s.department ?? ''}</td>
                  {ROLES.map((r) => (
                    <td key={r}><input type="checkbox" aria-label={`${s.userId} ${r}`} checked={s.roles.includes(r)}
                      onChange={(e) => setRoles(s.userId, (e.target as HTMLInputElement).checked ? [...s.roles, r] : s.roles.filter((x) => x !== r))} /></td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </>
  );
}

interface KeyInfo { keyId?: string; id?: string; name: string; kind?: string; permissions: string[]; createdAt?: string; expiresAt?: string | null; revokedAt?: string | null; prefix?: string }

export function KeysPage() {
  useLang();
  const list = useAsync(async () => itemsOf<KeyInfo>(await api('/api/admin/api-keys')), []);
  const [name, setName] = useState('');
  const [perms, setPerms] = useState('events:write');
  const [shown, setShown] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const r = await api<{ key: string }>('/api/admin/api-keys', { method: 'POST', body: { name, permissions: perms.split(/[\s,]+/).filter(Boolean) } });
      setShown(r.key); setError(null); list.reload();
    } catch (err) { setError(err); }
  };
  const revoke = async (id: string) => {
    try { await api(`/api/admin/api-keys/${id}`, { method: 'DELETE' }); list.reload(); } catch (err) { setError(err); }
  };
  return (
    <>
      <h1>{t('admin.keys')}</h1>
      <form class="row card" onSubmit={create}>
        <input aria-label={t('field.name')} placeholder={t('field.name')} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <input aria-label={t('field.permissions')} placeholder={t('field.permissions')} value={perms} onInput={(e) => setPerms((e.target as HTMLInputElement).value)} />
        <button type="submit" class="primary">{t('admin.newKey')}</button>
      </form>
      {shown && <p class="notice" role="status">{t('admin.keyShownOnce')} <code>{shown}</code></p>}
      {error ? <ErrorText error={error} /> : null}
      <Loaded state={list}>
        {(keys) => (
          <table class="card">
            <thead><tr><th>{t('field.name')}</th><th>{t('field.permissions')}</th><th>{t('field.createdAt')}</th><th>{t('common.status')}</th><th /></tr></thead>
            <tbody>
              {keys.map((k) => {
                const id = k.keyId ?? k.id ?? '';
                return (
                  <tr key={id}>
                    <td>{k.name} <span class="muted">{k.prefix ?? ''}</span></td><td>{k.permissions.join(', ')}</td><td>{formatTime(k.createdAt)}</td>
                    <td>{k.revokedAt ? `revoked ${formatTime(k.revokedAt)}` : 'active'}</td>
                    <td>{!k.revokedAt && id && <button type="button" onClick={() => revoke(id)}>{t('admin.revoke')}</button>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Loaded>
    </>
  );
}

interface AuditRow { at?: string; occurredAt?: string; actor: string; action: string; entityType?: string | null; entityId?: string | null; requestId?: string | null; ip?: string | null }

export function AuditPage() {
  useLang();
  const { search } = usePath();
  const filters = { actor: search.get('actor') ?? '', action: search.get('action') ?? '', entityId: search.get('entityId') ?? '' };
  const [draft, setDraft] = useState(filters);
  const list = usePaged<AuditRow>(`/api/audit${query({ ...filters, limit: 100 })}`);
  return (
    <>
      <h1>{t('admin.audit')}</h1>
      <form class="row card" onSubmit={(e) => { e.preventDefault(); navigate(`/admin/audit${query(draft)}`); }}>
        {(['actor', 'action', 'entityId'] as const).map((f) => (
          <input key={f} aria-label={f} placeholder={f} value={draft[f]} onInput={(e) => setDraft({ ...draft, [f]: (e.target as HTMLInputElement).value })} />
        ))}
        <button type="submit">{t('common.filter')}</button>
      </form>
      <PagedList list={list}>
        {(rows) => (
          <table class="card">
            <thead><tr><th>{t('field.at')}</th><th>{t('field.actor')}</th><th>{t('field.action')}</th><th>{t('field.entity')}</th><th>request</th></tr></thead>
            <tbody>
              {rows.map((r, i) => (
                <tr key={i}><td>{formatTime(r.at ?? r.occurredAt)}</td><td>{r.actor}</td><td>{r.action}</td><td>{[r.entityType, r.entityId].filter(Boolean).join(' ')}</td><td class="muted">{r.requestId ?? ''}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </PagedList>
    </>
  );
}
