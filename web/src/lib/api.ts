// Calls the API on the page's own origin with the session cookie; state changes carry the CSRF token.
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  errors?: Record<string, string[]>;
}

export class ApiError extends Error {
  constructor(public readonly status: number, public readonly problem: Problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
  }
  /** 404 on a route this deployment does not serve yet (or a record that is not there). */
  get notFound(): boolean { return this.status === 404; }
  get forbidden(): boolean { return this.status === 403; }
  get unauthorized(): boolean { return this.status === 401; }
}

let csrfToken: string | null = null;

export function setCsrfToken(token: string | null | undefined): void {
  csrfToken = token ?? null;
}

function csrfFromCookie(): string | null {
  if (typeof document === 'undefined') return null;
  const m = /(?:^|;\s*)cdp_csrf=([^;]+)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]) : null;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  return (await request<T>(path, init)).body;
}

/**
 * One page of a list route (API.md: newest first, the body an array, the next page's cursor in X-Cdp-Next-Cursor).
 * `next` is the path of the following page, or null on the last.
 */
export async function apiPage<T>(path: string): Promise<{ items: T[]; next: string | null }> {
  const { body, headers } = await request<unknown>(path);
  const cursor = headers.get('X-Cdp-Next-Cursor');
  return { items: itemsOf<T>(body), next: cursor ? withCursor(path, cursor) : null };
}

export function withCursor(path: string, cursor: string): string {
  const [base, search = ''] = path.split('?');
  const q = new URLSearchParams(search);
  q.set('cursor', cursor);
  return `${base}?${q.toString()}`;
}

async function request<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<{ body: T; headers: Headers }> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') {
    const token = csrfToken ?? csrfFromCookie();
    if (token) headers['X-Cdp-Csrf'] = token;
  }
  const response = await fetch(path, {
    method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    credentials: 'same-origin',
    signal: init.signal,
  });
  const text = await response.text();
  const json = text ? safeJson(text) : null;
  if (!response.ok) {
    const problem: Problem = json && typeof json === 'object' ? { status: response.status, ...(json as object) } : { status: response.status, title: response.statusText };
    throw new ApiError(response.status, problem);
  }
  return { body: json as T, headers: response.headers };
}

function safeJson(text: string): unknown {
  try { return JSON.parse(text); } catch { return null; }
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A list answer as either a bare array or a page object ({items} / {results} / {matches}). */
export function itemsOf<T>(body: unknown): T[] {
  if (Array.isArray(body)) return body as T[];
  if (body && typeof body === 'object') {
    for (const key of ['items', 'results', 'matches', 'value', 'data']) {
      const v = (body as Record<string, unknown>)[key];
      if (Array.isArray(v)) return v as T[];
    }
  }
  return [];
}

export interface Me {
  userId: string;
  name?: string | null;
  roles: string[];
  permissions: string[];
  csrfToken?: string | null;
}

export async function fetchMe(): Promise<Me | null> {
  try {
    const me = await api<Me>('/api/auth/me');
    setCsrfToken(me.csrfToken);
    return me;
  } catch (e) {
    if (e instanceof ApiError && e.unauthorized) return null;
    throw e;
  }
}

export function signInUrl(returnUrl: string): string {
  return `/api/auth/wecom/login${query({ returnUrl })}`;
}
