import { useCallback, useEffect, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { api, apiPage, ApiError } from './api';
import { onLangChange, t, lang, setLang } from './i18n';
import { isMasked, maskField, type PiiField } from './format';

/** Re-renders the caller when the language changes. */
export function useLang(): string {
  const [, set] = useState(0);
  useEffect(() => onLangChange(() => set((n) => n + 1)), []);
  return lang();
}

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ data: s.data, loading: true }));
    load().then((data) => live && setState({ data, loading: false }), (error) => live && setState({ error, loading: false }));
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/**
 * What a failed load says: 404 from a route this deployment does not serve (no detail) -> "暂不可用", 404 naming a record
 * -> "未找到", 403 -> not allowed, otherwise the problem.
 */
export function ErrorText({ error }: { error: unknown }) {
  useLang();
  const text = error instanceof ApiError
    ? error.notFound ? (error.problem.detail ? t('common.notFound') : t('common.unavailable'))
      : error.forbidden ? t('common.forbidden') : `${t('common.error')}: ${error.message}`
    : `${t('common.error')}: ${error instanceof Error ? error.message : String(error)}`;
  return <p class="notice" role="alert" data-status={error instanceof ApiError ? error.status : undefined}>{text}</p>;
}

export function Loaded<T>({ state, children }: { state: Async<T>; children: (data: T) => ComponentChildren }) {
  useLang();
  if (state.error) return <ErrorText error={state.error} />;
  if (state.data === undefined) return <p class="muted" aria-busy="true">{t('common.loading')}</p>;
  return <>{children(state.data)}</>;
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  const headingId = id ? `${id}-h` : undefined;
  return (
    <section class="card" aria-labelledby={headingId} id={id}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}

/**
 * A personal field, masked until revealed. A caller holding pii:reveal gets a button that asks the server
 * (POST /api/pii/reveal, audited) for the whole value.
 */
export function Pii({ entityType, entityId, field, value, canReveal }: {
  entityType: 'contact' | 'lead' | 'account'; entityId: string; field: PiiField; value: string | null | undefined; canReveal: boolean;
}) {
  useLang();
  const [revealed, setRevealed] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  if (!value) return <span class="muted">—</span>;
  if (revealed !== null) return <span class="pii revealed">{revealed}</span>;
  const reveal = async () => {
    try {
      const r = await api<{ value: string | null }>('/api/pii/reveal', { method: 'POST', body: { entityType, entityId, field } });
      setRevealed(r.value ?? '');
    } catch (e) { setError(e); }
  };
  return (
    <span class="pii">
      <span data-masked={isMasked(maskField(field, value))}>{maskField(field, value)}</span>
      {canReveal && <button type="button" class="link" onClick={reveal} aria-label={`${t('common.reveal')} ${field}`}>{t('common.reveal')}</button>}
      {error ? <ErrorText error={error} /> : null}
    </span>
  );
}

export function LangSwitch() {
  const current = useLang();
  return (
    <button type="button" class="link lang" onClick={() => setLang(current === 'zh' ? 'en' : 'zh')} aria-label="Language / 语言">
      {t('lang.switch')}
    </button>
  );
}

export function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="field"><dt>{label}</dt><dd>{children}</dd></div>
  );
}

export interface Paged<T> {
  items: T[] | undefined;
  error: unknown;
  more: (() => void) | null;
  reload: () => void;
}

/** A list route read page by page: the first page on load, the next one on "more" (X-Cdp-Next-Cursor). */
export function usePaged<T>(path: string): Paged<T> {
  const [state, setState] = useState<{ items?: T[]; next: string | null; error?: unknown }>({ next: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState({ next: null });
    apiPage<T>(path).then((p) => live && setState({ items: p.items, next: p.next }), (error) => live && setState({ error, next: null }));
    return () => { live = false; };
  }, [path, tick]);
  const more = state.next ? () => {
    const next = state.next!;
    apiPage<T>(next).then((p) => setState((s) => ({ items: [...(s.items ?? []), ...p.items], next: p.next })), (error) => setState((s) => ({ ...s, error })));
  } : null;
  return { items: state.items, error: state.error, more, reload: () => setTick((n) => n + 1) };
}

export function PagedList<T>({ list, children }: { list: Paged<T>; children: (items: T[]) => ComponentChildren }) {
  useLang();
  if (list.error) return <ErrorText error={list.error} />;
  if (!list.items) return <p class="muted" aria-busy="true">{t('common.loading')}</p>;
  return (
    <>
      {children(list.items)}
      {list.more && <p><button type="button" onClick={list.more}>{t('common.more')}</button></p>}
    </>
  );
}
