import { useEffect } from 'preact/hooks';
import { api, fetchMe, signInUrl, type Me } from '../lib/api';
import { t } from '../lib/i18n';
import { LangSwitch, Loaded, useAsync, useLang } from '../lib/ui';
import { allowedMenu, homePath, permissionFor } from './nav';
import { match, navigate, onLinkClick, usePath } from './router';
import { SearchPage } from './pages/Search';
import { AccountPage, ContactPage, LeadPage } from './pages/Customer360';
import { ReviewsPage } from './pages/Reviews';
import { SyncPage } from './pages/Sync';
import { IngestionsPage, OrchestrationsPage } from './pages/Processing';
import { OverviewPage } from './pages/Overview';
import { AuditPage, KeysPage, StaffPage } from './pages/Admin';

export function App() {
  useLang();
  const me = useAsync(fetchMe, []);
  useEffect(() => { document.title = t('app.title'); });
  return (
    <Loaded state={me}>
      {(who) => (who ? <Shell me={who} /> : <SignIn />)}
    </Loaded>
  );
}

function SignIn() {
  useLang();
  const returnUrl = location.pathname + location.search;
  return (
    <main class="signin card">
      <h1>{t('signin.title')}</h1>
      <p class="muted">{t('signin.hint')}</p>
      <a class="button primary" id="wecom-signin" href={signInUrl(returnUrl)}>{t('signin.wecom')}</a>
      <p><LangSwitch /></p>
    </main>
  );
}

function Shell({ me }: { me: Me }) {
  const { path } = usePath();
  const home = homePath(me.permissions);
  useEffect(() => { if (path === '/' && home) navigate(home, true); }, [path, home]);
  const signOut = async () => {
    await api('/api/auth/logout', { method: 'POST' }).catch(() => undefined);
    location.href = '/';
  };
  return (
    <div class="console" onClick={onLinkClick}>
      <nav aria-label="主导航 / Main">
        <h1>{t('app.title')}</h1>
        <ul>
          {allowedMenu(me.permissions).map((p) => (
            <li key={p.path}><a href={p.path} aria-current={path.startsWith(p.path) ? 'page' : undefined}>{t(p.label)}</a></li>
          ))}
        </ul>
        <div class="foot">
          <span>{me.name ?? me.userId}</span>
          <span>{me.roles.join(', ')}</span>
          <LangSwitch />
          <button type="button" class="link" onClick={signOut}>{t('nav.signout')}</button>
        </div>
      </nav>
      <main id="main">
        <Page path={path} me={me} />
      </main>
    </div>
  );
}

function Page({ path, me }: { path: string; me: Me }) {
  const needed = permissionFor(path);
  if (path === '/') return <p class="muted">{homePath(me.permissions) ? t('common.loading') : t('common.forbidden')}</p>;
  if (!needed) return <p class="notice" role="alert">{t('common.notFound')}</p>;
  if (!me.permissions.includes(needed)) return <p class="notice forbidden" role="alert" data-forbidden="true">{t('common.forbidden')}</p>;
  let m: Record<string, string> | null;
  if ((m = match('/accounts/:id', path))) return <AccountPage id={m.id} me={me} />;
  if ((m = match('/contacts/:id', path))) return <ContactPage id={m.id} me={me} />;
  if ((m = match('/leads/:id', path))) return <LeadPage id={m.id} me={me} />;
  switch (path) {
    case '/overview': return <OverviewPage />;
    case '/search': return <SearchPage />;
    case '/reviews': return <ReviewsPage />;
    case '/sync': return <SyncPage />;
    case '/ingestions': return <IngestionsPage />;
    case '/orchestrations': return <OrchestrationsPage />;
    case '/admin/staff': return <StaffPage />;
    case '/admin/keys': return <KeysPage />;
    case '/admin/audit': return <AuditPage />;
    default: return <p class="notice">{t('common.notFound')}</p>;
  }
}

export { signInUrl };
