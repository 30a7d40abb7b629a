// Turns the overview's per-minute series into what a chart draws: one x axis (unix seconds) and one y array per
// group (channel, topic, percentile), gaps as null. Tolerant of the two shapes a series comes in: a list of points
// ({minute|at|time, channel|topic|name, count|value}) or an object of group -> points / numbers.
export interface ChartData {
  xs: number[];
  groups: string[];
  ys: (number | null)[][];
}

type Point = Record<string, unknown>;

const TIME_KEYS = ['minute', 'at', 'time', 'timestamp', 't', 'bucket'];
const GROUP_KEYS = ['channel', 'topic', 'name', 'group', 'key', 'series'];
const VALUE_KEYS = ['count', 'value', 'n', 'total', 'v'];

function pick(point: Point, keys: string[]): unknown {
  for (const k of keys) if (k in point) return point[k];
  return undefined;
}

export function toSeconds(value: unknown): number | null {
  if (typeof value === 'number') return value > 1e11 ? Math.floor(value / 1000) : value;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
  }
  return null;
}

function num(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return null;
}

/** Points -> chart data; points without a group field form one group named `fallbackGroup`. */
export function pivot(points: readonly Point[], fallbackGroup = 'value'): ChartData {
  const byGroup = new Map<string, Map<number, number>>();
  const times = new Set<number>();
  for (const p of points) {
    const x = toSeconds(pick(p, TIME_KEYS));
    if (x === null) continue;
    const groupValue = pick(p, GROUP_KEYS);
    const valueField = pick(p, VALUE_KEYS);
    // A point may also carry several numeric fields (p50, p99): each is a group of its own.
    const entries: [string, number | null][] = valueField !== undefined
      ? [[groupValue == null ? fallbackGroup : String(groupValue), num(valueField)]]
      : Object.entries(p).filter(([k]) => !TIME_KEYS.includes(k) && !GROUP_KEYS.includes(k)).map(([k, v]) => [groupValue == null ? k : `${String(groupValue)} ${k}`, num(v)]);
    for (const [group, y] of entries) {
      if (y === null) continue;
      times.add(x);
      const g = byGroup.get(group) ?? new Map<number, number>();
      g.set(x, (g.get(x) ?? 0) + y);
      byGroup.set(group, g);
    }
  }
  const xs = [...times].sort((a, b) => a - b);
  const groups = [...byGroup.keys()].sort();
  return { xs, groups, ys: groups.map((g) => xs.map((x) => byGroup.get(g)!.get(x) ?? null)) };
}

/** Any of the series shapes -> chart data (empty when the value is not a series). */
export function toChartData(series: unknown): ChartData {
  if (Array.isArray(series)) return pivot(series.filter((p): p is Point => !!p && typeof p === 'object'));
  if (series && typeof series === 'object') {
    const points: Point[] = [];
    for (const [group, value] of Object.entries(series as Record<string, unknown>)) {
      if (!Array.isArray(value)) continue;
      for (const p of value) {
        if (p && typeof p === 'object') points.push({ ...(p as Point), channel: (p as Point).channel ?? (p as Point).topic ?? group });
      }
    }
    return pivot(points);
  }
  return { xs: [], groups: [], ys: [] };
}

/** The series named by the first of `names` the overview has (top level or under "series"). */
export function seriesOf(overview: unknown, ...names: string[]): ChartData {
  if (!overview || typeof overview !== 'object') return toChartData(null);
  const o = overview as Record<string, unknown>;
  const nested = o.series && typeof o.series === 'object' ? (o.series as Record<string, unknown>) : {};
  for (const n of names) {
    if (n in nested) return toChartData(nested[n]);
    if (n in o) return toChartData(o[n]);
  }
  return toChartData(null);
}

/** Sum of every point: the headline number above a chart. */
export function total(data: ChartData): number {
  return data.ys.reduce((s, ys) => s + ys.reduce<number>((a, y) => a + (y ?? 0), 0), 0);
}

export function hasData(data: ChartData): boolean {
  return data.xs.length > 0 && data.ys.some((ys) => ys.some((y) => y !== null));
}

/** A number from the overview's counters, wherever it sits (openReviews / counts.openReviews). */
export function counter(overview: unknown, name: string): number | null {
  if (!overview || typeof overview !== 'object') return null;
  const o = overview as Record<string, unknown>;
  const v = o[name] ?? (o.counts as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(v)) return v.length;
  return num(v);
}
