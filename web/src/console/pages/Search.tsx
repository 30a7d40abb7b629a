import { useState } from 'preact/hooks';
import { api, query } from '../../lib/api';
import { t, type Key } from '../../lib/i18n';
import { Loaded, useAsync, useLang } from '../../lib/ui';
import type { SearchMatch } from '../../lib/types';
import { navigate, usePath } from '../router';

export function SearchPage() {
  useLang();
  const { search } = usePath();
  const q = search.get('q') ?? '';
  const type = search.get('type') ?? '';
  const [text, setText] = useState(q);
  const [kind, setKind] = useState(type);
  const results = useAsync(
    () => (q ? api<{ query: string; matches: SearchMatch[] }>(`/api/search${query({ q, type: type || undefined })}`) : Promise.resolve(null)),
    [q, type],
  );
  return (
    <>
      <h1>{t('nav.search')}</h1>
      <form role="search" class="row card" onSubmit={(e) => { e.preventDefault(); navigate(`/search${query({ q: text.trim(), type: kind })}`); }}>
        <input type="search" name="q" aria-label={t('search.label')} placeholder={t('search.placeholder')} value={text} autoFocus
          onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        <select aria-label={t('search.type')} value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
          <option value="">{t('common.all')}</option>
          <option value="account">{t('type.account')}</option>
          <option value="contact">{t('type.contact')}</option>
          <option value="lead">{t('type.lead')}</option>
        </select>
        <button type="submit" class="primary">{t('common.search')}</button>
      </form>
      {q && (
        <Loaded state={results}>
          {(r) => !r || r.matches.length === 0 ? <p class="muted">{t('search.none')}</p> : (
            <table class="card" aria-label={t('nav.search')}>
              <thead><tr><th>{t('field.name')}</th><th>{t('search.type')}</th><th>{t('field.company')}</th><th>{t('field.city')}</th><th>{t('field.mobile')}</th><th>{t('search.matchedOn')}</th></tr></thead>
              <tbody>
                {r.matches.map((m) => (
                  <tr key={m.id} data-type={m.type}>
                    <td><a href={`/${m.type}s/${m.id}`}>{m.name ?? m.id}</a></td>
                    <td>{t(`type.${m.type}` as Key)}</td>
                    <td>{m.companyName ?? ''}</td>
                    <td>{m.city ?? ''}</td>
                    <td>{m.maskedPhone ?? ''}</td>
                    <td class="muted">{m.matchedOn} · {Math.round(m.score * 100)}%</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Loaded>
      )}
    </>
  );
}
