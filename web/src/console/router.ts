import { useEffect, useState } from 'preact/hooks';

// History routing: the host answers every console path with index.html (SPA fallback).
const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to); else history.pushState(null, '', to);
  listeners.forEach((l) => l());
  window.scrollTo?.(0, 0);
}

export function usePath(): { path: string; search: URLSearchParams } {
  const [, set] = useState(0);
  useEffect(() => {
    const update = () => set((n) => n + 1);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => { listeners.delete(update); window.removeEventListener('popstate', update); };
  }, []);
  return { path: location.pathname, search: new URLSearchParams(location.search) };
}

/** "/accounts/:id" against "/accounts/123" -> {id: "123"}; null when it does not match. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('/').filter(Boolean);
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) params[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return params;
}

/** Links handled by the router (plain clicks only; new-tab clicks and keyboard Enter work as links do). */
export function onLinkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as HTMLElement).closest('a');
  if (!a || a.target || a.origin !== location.origin || a.pathname.startsWith('/api/') || a.pathname.startsWith('/sidebar')) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
}
