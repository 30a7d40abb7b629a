import { useState } from 'preact/hooks';
import { api, type Me } from '../../lib/api';
import { formatAgo, formatAmount, formatPercent, formatTime, gradeTone } from '../../lib/format';
import { t } from '../../lib/i18n';
import { ErrorText, Field, Loaded, Pii, Section, useAsync, useLang } from '../../lib/ui';
import type { Account360, Behaviour, ComputedTag, Contact360, LeadDetails, Touchpoint } from '../../lib/types';

const canReveal = (me: Me) => me.permissions.includes('pii:reveal');

export function AccountPage({ id, me }: { id: string; me: Me }) {
  useLang();
  const view = useAsync(() => api<Account360>(`/api/accounts/${id}/360`), [id]);
  return (
    <Loaded state={view}>
      {(v) => (
        <article aria-label={v.account.name}>
          <h1>{v.account.name} <span class="muted">{t('type.account')}</span></h1>
          {v.partial && <p class="notice">{t('v360.partial')}</p>}
          <Section title={t('v360.summary')} id="summary">
            <dl class="fields">
              <Field label={t('field.creditCode')}>{v.account.creditCode ?? '—'}</Field>
              <Field label={t('field.city')}>{v.account.city ?? '—'}</Field>
              <Field label={t('common.status')}>{v.account.status}</Field>
              <Field label={t('v360.health')}>{v.summary?.healthScore ?? '—'}</Field>
              <Field label={t('v360.revenue')}>{formatAmount(v.summary?.totalRevenue) || '—'}</Field>
              <Field label={t('v360.winRate')}>{formatPercent(v.summary?.winRate) || '—'}</Field>
            </dl>
            <Computed tags={v.computedTags} />
          </Section>
          <div class="grid2">
            <Section title={t('v360.contacts')} id="contacts">
              {v.contacts.length === 0 ? <p class="muted">{t('common.none')}</p> : <table>
                <thead><tr><th>{t('field.name')}</th><th>{t('field.title')}</th><th>{t('field.mobile')}</th><th>{t('field.email')}</th></tr></thead>
                <tbody>
                  {v.contacts.map((c) => (
                    <tr key={c.contactId}>
                      <td><a href={`/contacts/${c.contactId}`}>{c.name ?? c.contactId}</a></td>
                      <td>{c.title ?? ''}</td>
                      <td><Pii entityType="contact" entityId={c.contactId} field="mobilePhone" value={c.mobilePhone} canReveal={canReveal(me)} /></td>
                      <td><Pii entityType="contact" entityId={c.contactId} field="email" value={c.email} canReveal={canReveal(me)} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>}
            </Section>
            <Section title={t('v360.opportunities')} id="opportunities">
              {v.opportunities.length === 0 ? <p class="muted">{t('common.none')}</p> : <table>
                <thead><tr><th>{t('field.name')}</th><th>{t('field.stage')}</th><th>{t('field.amount')}</th></tr></thead>
                <tbody>
                  {v.opportunities.map((o) => <tr key={o.opportunityId}><td>{o.name}</td><td>{o.stage}</td><td>{formatAmount(o.amount)}</td></tr>)}
                </tbody>
              </table>}
            </Section>
            <Activity behaviour={v.behaviour} touchpoints={v.touchpoints} />
          </div>
        </article>
      )}
    </Loaded>
  );
}

export function ContactPage({ id, me }: { id: string; me: Me }) {
  useLang();
  const view = useAsync(() => api<Contact360>(`/api/contacts/${id}/360`), [id]);
  return (
    <Loaded state={view}>
      {(v) => (
        <article aria-label={v.contact.name ?? id}>
          <h1>{v.contact.name ?? '—'} <span class="muted">{t('type.contact')}</span></h1>
          {v.partial && <p class="notice">{t('v360.partial')}</p>}
          <Section title={t('v360.summary')} id="summary">
            <dl class="fields">
              <Field label={t('field.mobile')}><Pii entityType="contact" entityId={id} field="mobilePhone" value={v.contact.mobilePhone} canReveal={canReveal(me)} /></Field>
              <Field label={t('field.email')}><Pii entityType="contact" entityId={id} field="email" value={v.contact.email} canReveal={canReveal(me)} /></Field>
              <Field label={t('field.title')}>{v.contact.title ?? '—'}</Field>
              <Field label={t('field.city')}>{v.contact.city ?? '—'}</Field>
              <Field label={t('v360.engagement')}>{v.summary?.engagementScore ?? '—'}</Field>
              <Field label={t('v360.accounts')}>{v.accounts.map((a) => <a key={a.accountId} href={`/accounts/${a.accountId}`}>{a.name} </a>)}</Field>
            </dl>
            <p>{v.tags.map((tag) => <span class="chip" key={tag}>{tag}</span>)}</p>
            <Computed tags={v.computedTags} />
          </Section>
          <div class="grid2">
            <Section title={t('v360.followUps')} id="follow-ups">
              <ul class="list">{v.followUps.map((f) => <li key={f.followUpId}><span class="muted">{formatTime(f.occurredAt)}</span> {f.content}</li>)}</ul>
            </Section>
            <Section title={t('type.lead')} id="leads">
              <ul class="list">{v.leads.map((l) => <li key={l.leadId}><a href={`/leads/${l.leadId}`}>{l.name ?? l.leadId}</a> <span class="muted">{formatTime(l.convertedAt)}</span></li>)}</ul>
            </Section>
            <Activity behaviour={v.behaviour} touchpoints={v.touchpoints} />
          </div>
        </article>
      )}
    </Loaded>
  );
}

export function LeadPage({ id, me }: { id: string; me: Me }) {
  useLang();
  const view = useAsync(() => api<LeadDetails>(`/api/leads/${id}`), [id]);
  return (
    <Loaded state={view}>
      {(v) => (
        <article aria-label={v.leadName ?? id}>
          <h1>{v.leadName ?? '—'} <span class="muted">{t('type.lead')}</span></h1>
          <Section title={t('v360.summary')} id="summary">
            <dl class="fields">
              <Field label={t('field.company')}>{v.companyName ?? '—'}</Field>
              <Field label={t('field.mobile')}><Pii entityType="lead" entityId={id} field="mobilePhone" value={v.mobilePhone} canReveal={canReveal(me)} /></Field>
              <Field label={t('field.email')}><Pii entityType="lead" entityId={id} field="email" value={v.email} canReveal={canReveal(me)} /></Field>
              <Field label={t('field.source')}>{v.leadSource ?? v.channelId ?? '—'}</Field>
              <Field label={t('common.status')}>{v.leadStatus}</Field>
              <Field label={t('field.grade')}>{v.grade ? <strong class={`grade ${gradeTone(v.grade)}`}>{v.grade}</strong> : '—'} {v.score ?? ''}</Field>
            </dl>
            {v.scoreReasons.length > 0 && (
              <ul class="reasons" aria-label={t('v360.reasons')}>{v.scoreReasons.map((r) => <li key={r.factor}>{r.detail} <span class="muted">+{r.points}</span></li>)}</ul>
            )}
            <Computed tags={v.computedTags} />
          </Section>
          {v.convertedAt
            ? <p class="card">{t('lead.converted')} {formatTime(v.convertedAt)} · {v.convertedContactId && <a href={`/contacts/${v.convertedContactId}`}>{t('type.contact')}</a>} {v.convertedAccountId && <a href={`/accounts/${v.convertedAccountId}`}>{t('type.account')}</a>}</p>
            : me.permissions.includes('leads:convert') && <Convert leadId={id} name={v.companyName ?? v.leadName ?? ''} onDone={view.reload} />}
          <BehaviourCard behaviour={v.behaviour} />
        </article>
      )}
    </Loaded>
  );
}

function Convert({ leadId, name, onDone }: { leadId: string; name: string; onDone: () => void }) {
  useLang();
  const [withOpp, setWithOpp] = useState(false);
  const [opp, setOpp] = useState({ name: name ? `${name} 商机` : '', amount: '', stage: 'Prospecting' });
  const [state, setState] = useState<{ error?: unknown; text?: string; busy?: boolean }>({});
  const submit = async (e: Event) => {
    e.preventDefault();
    setState({ busy: true });
    try {
      const body = withOpp ? { opportunity: { name: opp.name, amount: Number(opp.amount) || 0, stage: opp.stage } } : {};
      const r = await api<{ contactId?: string; statusQueryGetUri?: string }>(`/api/leads/${leadId}/convert`, { method: 'POST', body });
      setState({ text: r.contactId ? t('lead.convertDone') : t('lead.convertPending') });
      onDone();
    } catch (error) { setState({ error }); }
  };
  return (
    <Section title={t('lead.convert')} id="convert">
      <form class="stack" onSubmit={submit}>
        <label><input type="checkbox" checked={withOpp} onChange={(e) => setWithOpp((e.target as HTMLInputElement).checked)} /> {t('lead.withOpportunity')}</label>
        {withOpp && (
          <div class="row">
            <input aria-label={t('field.name')} placeholder={t('field.name')} value={opp.name} onInput={(e) => setOpp({ ...opp, name: (e.target as HTMLInputElement).value })} />
            <input aria-label={t('field.amount')} placeholder={t('field.amount')} inputMode="decimal" value={opp.amount} onInput={(e) => setOpp({ ...opp, amount: (e.target as HTMLInputElement).value })} />
            <input aria-label={t('field.stage')} placeholder={t('field.stage')} value={opp.stage} onInput={(e) => setOpp({ ...opp, stage: (e.target as HTMLInputElement).value })} />
          </div>
        )}
        <div><button type="submit" class="primary" disabled={state.busy}>{t('lead.convert')}</button> {state.text}</div>
        {state.error ? <ErrorText error={state.error} /> : null}
      </form>
    </Section>
  );
}

function Computed({ tags }: { tags: ComputedTag[] }) {
  if (tags.length === 0) return null;
  return <p aria-label={t('v360.computedTags')}>{tags.map((c) => <span class="chip computed" key={c.tag} title={c.reason}>{c.tag}</span>)}</p>;
}

/** The last 30 days' behaviour counts and the latest touchpoints, as both 360 pages end. */
function Activity({ behaviour, touchpoints }: { behaviour?: Behaviour | null; touchpoints: Touchpoint[] }) {
  return <><BehaviourCard behaviour={behaviour} /><Touchpoints items={touchpoints} /></>;
}

function BehaviourCard({ behaviour }: { behaviour?: Behaviour | null }) {
  const entries = Object.entries(behaviour?.countsByType ?? {}).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map(([, n]) => n));
  return (
    <Section title={t('v360.behaviour')} id="behaviour">
      {entries.length === 0 ? <p class="muted">{t('common.none')}</p> : (
        <ul class="list">
          {entries.map(([type, n]) => (
            <li key={type} class="row"><span style={{ width: '120px' }}>{type}</span><meter min={0} max={max} value={n} aria-label={type} /> {n}</li>
          ))}
        </ul>
      )}
    </Section>
  );
}

function Touchpoints({ items }: { items: Touchpoint[] }) {
  return (
    <Section title={t('v360.touchpoints')} id="touchpoints">
      <ul class="list">
        {items.length === 0 && <li class="muted">{t('common.none')}</li>}
        {items.map((tp) => <li key={tp.touchpointId}>{tp.type} <span class="muted">{tp.channelId} · {formatAgo(tp.at)}</span></li>)}
      </ul>
    </Section>
  );
}
