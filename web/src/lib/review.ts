// Which of a candidate account's fields agree with the incoming record (the review page highlights them).
export interface ReviewRecordLike {
  record: Record<string, unknown>;
  companyFullName?: string | null;
  companyShortName?: string | null;
}
export interface CandidateLike { name: string; city?: string | null; creditCode?: string | null }

const norm = (v: unknown) => (typeof v === 'string' ? v.replace(/\s+/g, '').toLowerCase() : '');

export function matchingFields(incoming: ReviewRecordLike, candidate: CandidateLike): Set<'name' | 'city' | 'creditCode'> {
  const out = new Set<'name' | 'city' | 'creditCode'>();
  const r = incoming.record;
  const names = [r.company, incoming.companyFullName, incoming.companyShortName].map(norm).filter(Boolean);
  const cand = norm(candidate.name);
  if (cand && names.some((n) => n === cand || cand.includes(n) || n.includes(cand))) out.add('name');
  if (norm(r.city) && norm(r.city) === norm(candidate.city)) out.add('city');
  if (norm(r.creditCode) && norm(r.creditCode) === norm(candidate.creditCode)) out.add('creditCode');
  return out;
}

/** The incoming record's fields worth showing, in a fixed order, blanks left out. */
export const RECORD_FIELDS = ['name', 'company', 'mobile', 'email', 'phone', 'city', 'creditCode', 'title', 'channel', 'sourceId'] as const;

export function recordRows(record: Record<string, unknown>): [string, string][] {
  return RECORD_FIELDS.filter((f) => record[f] != null && record[f] !== '').map((f) => [f, String(record[f])]);
}
