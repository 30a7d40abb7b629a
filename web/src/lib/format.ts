import { lang, t, type Lang } from './i18n';

/** "13812345678" -> "138****5678" (as the server masks): first 3 and last 4 digits; fewer than 8 digits -> "****". */
export function maskPhone(value: string | null | undefined): string {
  if (!value) return '';
  if (value.includes('*')) return value;
  const digits = value.replace(/\D/g, '');
  if (digits.length < 8) return '****';
  const local = digits.startsWith('86') && digits.length === 13 ? digits.slice(2) : digits;
  return `${local.slice(0, 3)}****${local.slice(-4)}`;
}

/** "wang@example.com" -> "w***@example.com"; no @ -> "***". */
export function maskEmail(value: string | null | undefined): string {
  if (!value) return '';
  if (value.includes('*')) return value;
  const at = value.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${value[0]}***${value.slice(at)}`;
}

export type PiiField = 'mobilePhone' | 'phone' | 'email' | 'weChatId' | 'weComExternalUserId';

/** What a PII field shows until revealed: masked whatever the server sent (a revealer gets full values). */
export function maskField(field: PiiField, value: string | null | undefined): string {
  if (!value) return '';
  if (field === 'email') return maskEmail(value);
  if (field === 'mobilePhone' || field === 'phone') return maskPhone(value);
  return value.includes('*') ? value : value.length < 8 ? '***' : `${value.slice(0, 4)}***`;
}

export function isMasked(value: string | null | undefined): boolean {
  return !!value && value.includes('*');
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Local date and time, "2026-11-26 15:04"; empty for nothing, the input back for something unparseable. */
export function formatTime(value: string | null | undefined): string {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "3 分钟前" / "3 min ago" relative to now. */
export function formatAgo(value: string | null | undefined, now: Date = new Date(), as: Lang = lang()): string {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  const s = Math.max(0, Math.round((now.getTime() - d.getTime()) / 1000));
  const [n, zhUnit, enUnit] = s < 60 ? [s, '秒', 's'] : s < 3600 ? [Math.floor(s / 60), '分钟', 'min'] : s < 86400 ? [Math.floor(s / 3600), '小时', 'h'] : [Math.floor(s / 86400), '天', 'd'];
  return as === 'zh' ? `${n} ${zhUnit}前` : `${n} ${enUnit} ago`;
}

/** Money as the CRM holds it (yuan): "¥1,234,567" / "¥1.2M" never; plain grouping. */
export function formatAmount(value: number | null | undefined): string {
  if (value == null || Number.isNaN(value)) return '';
  return '¥' + value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

export function formatPercent(value: number | null | undefined): string {
  if (value == null) return '';
  return `${Math.round(value * 1000) / 10}%`;
}

export interface SyncTaskLike {
  status: string;
  attempts: number;
  lastError?: string | null;
}

/** The sync state of a change as the sidebar and the console say it: pending / retrying n of max / failed / synced. */
export function syncStateText(task: SyncTaskLike | null | undefined, maxAttempts = 5, as: Lang = lang()): string {
  if (!task) return t('sync.unknown', undefined, as);
  switch (task.status) {
    case 'pending':
      return task.attempts > 0 ? t('sync.retrying', { n: task.attempts, max: maxAttempts }, as) : t('sync.pending', undefined, as);
    case 'retrying':
      return t('sync.retrying', { n: Math.max(1, task.attempts), max: maxAttempts }, as);
    case 'failed':
      return t('sync.failed', undefined, as);
    case 'succeeded':
      return t('sync.succeeded', undefined, as);
    case 'skipped':
    case 'superseded':
      return t('sync.skipped', undefined, as);
    default:
      return t('sync.unknown', undefined, as);
  }
}

/** True while a sync task may still change by itself (the page keeps polling). */
export function syncStillMoving(status: string | null | undefined): boolean {
  return status === 'pending' || status === 'retrying' || status === 'running';
}

/** Grade A-D as a CSS class suffix. */
export function gradeTone(grade: string | null | undefined): 'good' | 'ok' | 'low' | 'none' {
  switch ((grade ?? '').toUpperCase()) {
    case 'A': return 'good';
    case 'B': return 'ok';
    case 'C': case 'D': return 'low';
    default: return 'none';
  }
}

/** Splits a contact's tags into the corp tags (names on the WeCom corp tag list) and free tags. */
export function splitTags(tags: readonly string[], corpTags: readonly string[]): { corp: string[]; free: string[] } {
  const corp = new Set(corpTags);
  return { corp: tags.filter((x) => corp.has(x)), free: tags.filter((x) => !corp.has(x)) };
}

/** A new tag list: trimmed, ≤ 30 characters (WeCom's limit), no blanks, no duplicates. */
export function addTag(tags: readonly string[], tag: string): string[] {
  const clean = tag.trim().slice(0, 30);
  if (!clean || tags.includes(clean)) return [...tags];
  return [...tags, clean];
}
