import { useEffect, useState } from 'preact/hooks';
import { api, fetchMe, itemsOf, signInUrl, type Me } from '../lib/api';
import { addTag, formatAgo, formatAmount, formatTime, gradeTone, splitTags, syncStateText, syncStillMoving, type SyncTaskLike } from '../lib/format';
import { t } from '../lib/i18n';
import { ErrorText, LangSwitch, Loaded, Pii, Section, useAsync, useLang } from '../lib/ui';
import { contactFromUrl, currentExternalContact, insideWeCom, resolveContactId } from '../lib/wecom';
import type { Contact360, LeadDetails, Account360, SyncTask } from '../lib/types';

const MAX_ATTEMPTS = 5;

/** The sidebar: who the chat is with, then that contact's profile. */
export function SidebarApp() {
  useLang();
  const me = useAsync(fetchMe, []);
  const contact = useAsync(async () => {
    const fromUrl = contactFromUrl(location.search);
    if (fromUrl) return resolveContactId(fromUrl);
    if (insideWeCom(navigator.userAgent)) {
      const external = await currentExternalContact();
      return external ? resolveContactId({ externalUserId: external }) : null;
    }
    return null;
  }, []);

  return (
    <div class="sidebar">
      <header class="bar">
        <h1>{t('app.sidebar')}</h1>
        <LangSwitch />
      </header>
      <Loaded state={me}>
        {(who) => who === null
          ? <SignIn />
          : <Loaded state={contact}>
              {(id) => id ? <Profile contactId={id} me={who} /> : (
                <div class="card"><p><strong>{t('sidebar.noContact')}</strong></p><p class="muted">{t('sidebar.noContactHint')}</p></div>
              )}
            </Loaded>}
      </Loaded>
    </div>
  );
}

function SignIn() {
  return (
    <div class="card">
      <p>{t('signin.hint')}</p>
      <a class="button primary" href={signInUrl(location.pathname + location.search)}>{t('signin.wecom')}</a>
    </div>
  );
}

function Profile({ contactId, me }: { contactId: string; me: Me }) {
  const view = useAsync(() => api<Contact360>(`/api/contacts/${contactId}/360`), [contactId]);
  const [version, setVersion] = useState(0);
  const changed = () => {
    setVersion((n) => n + 1);
    view.reload();
  };
  const canReveal = me.permissions.includes('pii:reveal');
  const canWrite = me.permissions.includes('customers:write');
  const canCall = me.permissions.includes('calls:bind');
  return (
    <Loaded state={view}>
      {(v) => (
        <>
          <Header view={v} canReveal={canReveal} />
          {canCall && <Call contactId={contactId} />}
          <Score view={v} />
          {canWrite && <SyncState contactId={contactId} version={version} />}
          <Tags contactId={contactId} tags={v.tags} computed={v.computedTags} canWrite={canWrite} onSaved={changed} />
          <FollowUps contactId={contactId} view={v} canWrite={canWrite} onSaved={changed} />
          <Touchpoints view={v} />
          <Opportunities view={v} />
        </>
      )}
    </Loaded>
  );
}

function Header({ view, canReveal }: { view: Contact360; canReveal: boolean }) {
  const c = view.contact;
  const company = view.accounts.find((a) => a.isPrimaryAccount) ?? view.accounts[0];
  return (
    <section class="card who" aria-label={t('field.name')}>
      <h2 class="name">{c.name ?? '—'}</h2>
      <p class="muted">{[company?.name, c.title, c.city].filter(Boolean).join(' · ')}</p>
      <p>
        <span class="label">{t('field.mobile')}</span>{' '}
        <Pii entityType="contact" entityId={c.contactId} field="mobilePhone" value={c.mobilePhone} canReveal={canReveal} />
      </p>
    </section>
  );
}

interface Binding { bindingId: string; state: 'NOT_BIND' | 'OPERATION' | 'BIND'; virtualNumber: string | null; expiresAt: string; attempts: number; failureCode: string | null }

/**
 * Call through a privacy number (seed 002): binds AXB (the customer, the salesperson's own mobile, an X from the pool)
 * and shows X to dial; while the provider is slow the binding completes in the background and this polls it.
 * One request id per press, so a double click gives one binding.
 */
function Call({ contactId }: { contactId: string }) {
  const [binding, setBinding] = useState<Binding | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (binding?.state !== 'OPERATION') return;
    const timer = window.setTimeout(async () => {
      try { setBinding(await api<Binding>(`/api/virtual-numbers/bindings/${binding.bindingId}`)); } catch (e) { setError(e); }
    }, 1500);
    return () => window.clearTimeout(timer);
  }, [binding]);
  const call = async () => {
    setBusy(true);
    setError(null);
    try {
      setBinding(await api<Binding>('/api/virtual-numbers/bindings', { method: 'POST', body: { mode: 'AXB', contactId, requestId: crypto.randomUUID() } }));
    } catch (e) { setError(e); } finally { setBusy(false); }
  };
  return (
    <section class="card call" aria-live="polite" aria-label={t('call.title')}>
      <button type="button" class="primary" onClick={call} disabled={busy || binding?.state === 'OPERATION'}>{t('call.button')}</button>{' '}
      {binding?.state === 'OPERATION' && <span data-call-state="OPERATION">{t('call.binding')}</span>}
      {binding?.state === 'BIND' && binding.virtualNumber && (
        <span data-call-state="BIND">{t('call.dial')} <a href={`tel:${binding.virtualNumber}`} data-virtual-number>{binding.virtualNumber}</a>{' '}
          <span class="muted">{t('call.until', { at: formatTime(binding.expiresAt) })}</span></span>
      )}
      {binding?.state === 'NOT_BIND' && <span data-call-state="NOT_BIND" class="error">{t('call.failed')}</span>}
      {error != null && <ErrorText error={error} />}
    </section>
  );
}

/** Score and grade come from the lead the contact was converted from; the engagement score otherwise. */
function Score({ view }: { view: Contact360 }) {
  const leadId = view.leads[0]?.leadId;
  const lead = useAsync(() => (leadId ? api<LeadDetails>(`/api/leads/${leadId}`) : Promise.resolve(null)), [leadId]);
  const reasons = lead.data?.scoreReasons ?? [];
  return (
    <Section title={`${t('field.score')} / ${t('field.grade')}`} id="score">
      <p class="score">
        {lead.data?.score != null
          ? <><strong class={`grade ${gradeTone(lead.data.grade)}`}>{lead.data.grade}</strong> <span>{lead.data.score}</span></>
          : <><span class="label">{t('v360.engagement')}</span> <strong>{view.summary?.engagementScore ?? '—'}</strong></>}
      </p>
      {(reasons.length > 0 || view.computedTags.length > 0) && (
        <ul class="reasons" aria-label={t('v360.reasons')}>
          {reasons.map((r) => <li key={r.factor}>{r.detail} <span class="muted">+{r.points}</span></li>)}
          {view.computedTags.map((tag) => <li key={tag.tag}><span class="chip computed">{tag.tag}</span> <span class="muted">{tag.reason}</span></li>)}
        </ul>
      )}
    </Section>
  );
}

/**
 * The sync state of the contact's last change (GET /api/contacts/{id}/sync-tasks?limit=1), polled while it moves.
 * Retry re-drives a failed push through the contact's own retry route (customers:write).
 */
function SyncState({ contactId, version }: { contactId: string; version: number }) {
  useLang();
  const [task, setTask] = useState<SyncTask | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: number | undefined;
    const poll = async () => {
      try {
        const [latest] = itemsOf<SyncTask>(await api(`/api/contacts/${contactId}/sync-tasks?limit=1`));
        if (!live) return;
        setTask(latest ?? null);
        setError(null);
        if (latest && syncStillMoving(latest.status)) timer = window.setTimeout(poll, 1000);
      } catch (e) {
        if (live) setError(e);
      }
    };
    poll();
    return () => { live = false; window.clearTimeout(timer); };
  }, [contactId, version, tick]);
  if (task === null) return null;
  const retry = async () => {
    if (!task) return;
    try {
      // The contact's own retry route: a salesperson holds customers:write, not sync:manage.
      await api(`/api/contacts/${contactId}/sync-tasks/${task.id}/retry`, { method: 'POST' });
      setTick((n) => n + 1);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section class="card sync" aria-live="polite" aria-label={t('sync.lastChange')}>
      <span class="label">{t('sync.lastChange')}</span>{' '}
      {error ? <ErrorText error={error} />
        : <strong class={`sync-state ${task?.status ?? ''}`} data-sync-status={task?.status} data-attempts={task?.attempts}>{task ? syncStateText(task as SyncTaskLike, MAX_ATTEMPTS) : t('common.loading')}</strong>}
      {task && <span class="muted"> · {formatAgo(task.updatedAt)}</span>}
      {task?.status === 'failed' && task.lastError && <p class="muted error-text">{task.lastError}</p>}
      {task?.status === 'failed' && <button type="button" onClick={retry}>{t('common.retry')}</button>}
    </section>
  );
}

function Tags({ contactId, tags, computed, canWrite, onSaved }: {
  contactId: string; tags: string[]; computed: { tag: string; reason: string }[]; canWrite: boolean; onSaved: (taskId: string) => void;
}) {
  useLang();
  const corpTags = useAsync(async () => {
    const body = await api<unknown>('/api/wecom/corp-tags');
    return itemsOf<unknown>(body).flatMap(flattenTagNames);
  }, []);
  const [draft, setDraft] = useState<string[]>(tags);
  const [input, setInput] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  useEffect(() => setDraft(tags), [tags.join('\u0000')]);
  const corpNames = corpTags.data ?? [];
  const { free } = splitTags(draft, corpNames);
  const dirty = draft.join('\u0000') !== tags.join('\u0000');
  const toggle = (tag: string) => setDraft(draft.includes(tag) ? draft.filter((x) => x !== tag) : addTag(draft, tag));
  const save = async () => {
    setSaving(true);
    try {
      const r = await api<{ syncTaskId: string }>(`/api/contacts/${contactId}/tags`, { method: 'PUT', body: { tags: draft } });
      setError(null);
      onSaved(r.syncTaskId);
    } catch (e) { setError(e); } finally { setSaving(false); }
  };
  return (
    <Section title={t('field.tags')} id="tags">
      {corpNames.length > 0 && (
        <div role="group" aria-label={t('sidebar.corpTags')} class="chips">
          {corpNames.map((tag) => (
            <button type="button" key={tag} class="chip toggle" aria-pressed={draft.includes(tag)} disabled={!canWrite} onClick={() => toggle(tag)}>{tag}</button>
          ))}
        </div>
      )}
      <ul class="chips" aria-label={t('sidebar.freeTags')}>
        {free.map((tag) => (
          <li key={tag} class="chip">
            {tag}
            {canWrite && <button type="button" class="x" aria-label={t('sidebar.removeTag', { tag })} onClick={() => setDraft(draft.filter((x) => x !== tag))}>×</button>}
          </li>
        ))}
        {computed.map((c) => <li key={`c-${c.tag}`} class="chip computed" title={c.reason}>{c.tag}</li>)}
      </ul>
      {canWrite && (
        <form class="row" onSubmit={(e) => { e.preventDefault(); if (input.trim()) { setDraft(addTag(draft, input)); setInput(''); } else if (dirty) save(); }}>
          <input aria-label={t('sidebar.tagsPlaceholder')} placeholder={t('sidebar.tagsPlaceholder')} value={input} maxLength={30}
            onInput={(e) => setInput((e.target as HTMLInputElement).value)} />
          <button type="button" class="primary" disabled={!dirty || saving} onClick={save}>{t('common.save')}</button>
        </form>
      )}
      {error ? <ErrorText error={error} /> : null}
    </Section>
  );
}

function flattenTagNames(item: unknown): string[] {
  if (typeof item === 'string') return [item];
  if (item && typeof item === 'object') {
    const o = item as Record<string, unknown>;
    if (Array.isArray(o.tags)) return o.tags.flatMap(flattenTagNames);
    if (Array.isArray(o.tag)) return o.tag.flatMap(flattenTagNames);
    if (typeof o.name === 'string') return [o.name];
  }
  return [];
}

function FollowUps({ contactId, view, canWrite, onSaved }: { contactId: string; view: Contact360; canWrite: boolean; onSaved: (taskId: string) => void }) {
  useLang();
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!text.trim()) return;
    try {
      const r = await api<{ id: string; syncTaskId: string }>(`/api/contacts/${contactId}/follow-ups`, {
        method: 'POST', body: { content: text.trim(), channel: 'wecom', occurredAt: new Date().toISOString() },
      });
      setText('');
      setError(null);
      onSaved(r.syncTaskId);
    } catch (err) { setError(err); }
  };
  return (
    <Section title={t('v360.followUps')} id="follow-ups">
      {canWrite && (
        <form onSubmit={submit} class="stack">
          <textarea aria-label={t('sidebar.followUp')} placeholder={t('sidebar.followUpPlaceholder')} rows={2} maxLength={2000}
            value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
          <button type="submit" class="primary" disabled={!text.trim()}>{t('sidebar.followUp')}</button>
        </form>
      )}
      {error ? <ErrorText error={error} /> : null}
      <ul class="list">
        {view.followUps.length === 0 && <li class="muted">{t('common.none')}</li>}
        {view.followUps.slice(0, 5).map((f) => (
          <li key={f.followUpId}><span class="muted">{formatTime(f.occurredAt)}</span> {f.content}</li>
        ))}
      </ul>
    </Section>
  );
}

function Touchpoints({ view }: { view: Contact360 }) {
  return (
    <Section title={t('v360.touchpoints')} id="touchpoints">
      <ul class="list">
        {view.touchpoints.length === 0 && <li class="muted">{t('common.none')}</li>}
        {view.touchpoints.slice(0, 5).map((tp) => (
          <li key={tp.touchpointId}>{tp.type} <span class="muted">{tp.channelId} · {formatAgo(tp.at)}</span></li>
        ))}
      </ul>
    </Section>
  );
}

function Opportunities({ view }: { view: Contact360 }) {
  const accountId = (view.accounts.find((a) => a.isPrimaryAccount) ?? view.accounts[0])?.accountId;
  const account = useAsync(() => (accountId ? api<Account360>(`/api/accounts/${accountId}/360`) : Promise.resolve(null)), [accountId]);
  const open = (account.data?.opportunities ?? []).filter((o) => !o.isClosed);
  return (
    <Section title={t('sidebar.openOpps')} id="opportunities">
      {account.error ? <ErrorText error={account.error} /> : (
        <ul class="list">
          {open.length === 0 && <li class="muted">{t('common.none')}</li>}
          {open.map((o) => <li key={o.opportunityId}>{o.name} <span class="muted">{o.stage} · {formatAmount(o.amount)}</span></li>)}
        </ul>
      )}
    </Section>
  );
}
