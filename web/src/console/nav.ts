import type { Key } from '../lib/i18n';

/** The console's pages, each behind one permission: the menu shows and the router opens only what the caller holds. */
export interface PageDef { path: string; label: Key; permission: string; menu: boolean }

export const PAGES: PageDef[] = [
  { path: '/overview', label: 'nav.overview', permission: 'ops:read', menu: true },
  { path: '/search', label: 'nav.search', permission: 'customers:read', menu: true },
  { path: '/reviews', label: 'nav.reviews', permission: 'identity:review', menu: true },
  { path: '/sync', label: 'nav.sync', permission: 'sync:manage', menu: true },
  { path: '/ingestions', label: 'nav.ingestions', permission: 'ingestions:read', menu: true },
  { path: '/orchestrations', label: 'nav.orchestrations', permission: 'orchestrations:read', menu: true },
  { path: '/admin/staff', label: 'nav.staff', permission: 'admin', menu: true },
  { path: '/admin/keys', label: 'nav.keys', permission: 'admin', menu: true },
  { path: '/admin/audit', label: 'nav.audit', permission: 'audit:read', menu: true },
  { path: '/accounts/:id', label: 'nav.search', permission: 'customers:read', menu: false },
  { path: '/contacts/:id', label: 'nav.search', permission: 'customers:read', menu: false },
  { path: '/leads/:id', label: 'nav.search', permission: 'customers:read', menu: false },
];

export function allowedMenu(permissions: readonly string[]): PageDef[] {
  return PAGES.filter((p) => p.menu && permissions.includes(p.permission));
}

/** Where "/" leads: the first menu page the caller may open (null: none). */
export function homePath(permissions: readonly string[]): string | null {
  return allowedMenu(permissions)[0]?.path ?? null;
}

/** The permission a console path needs (undefined for an unknown path). */
export function permissionFor(path: string): string | undefined {
  const s = path.split('/').filter(Boolean);
  return PAGES.find((p) => {
    const ps = p.path.split('/').filter(Boolean);
    return ps.length === s.length && ps.every((x, i) => x.startsWith(':') || x === s[i]);
  })?.permission;
}
