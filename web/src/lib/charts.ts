// The overview's per-minute series (GET /api/ops/overview, README "Operations") turned into what a chart draws: one
// x axis (unix seconds) and one y array per group (channel, topic, percentile), minutes without a point as null.

/** One series group: [minute ISO, value] per minute that has data. */
export type Points = [string, number][];

export interface Overview {
  from: string;
  to: string;
  stepSeconds: number;
  series: {
    ingested: Record<string, Points>;
    failed: Record<string, Points>;
    resolved: Record<string, Points>;
    backlog: Record<string, Points>;
    summaryLagMs: Record<string, Points>;
    viewLatencyMs: Record<string, Points>;
    viewCache: Record<string, Points>;
  };
  openReviews: number;
  failedSyncs: { lastHour: number; last24Hours: number };
  deadLetters: number;
  openAlerts: unknown[];
}

export interface ChartData {
  xs: number[];
  groups: string[];
  ys: (number | null)[][];
}

export function toSeconds(iso: string): number | null {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/** group -> points as one chart: the union of the groups' minutes on x, each group's value or null. */
export function toChartData(groups: Record<string, Points> | undefined): ChartData {
  const byGroup = new Map<string, Map<number, number>>();
  const times = new Set<number>();
  for (const [group, points] of Object.entries(groups ?? {})) {
    const values = new Map<number, number>();
    for (const [minute, value] of points) {
      const x = toSeconds(minute);
      if (x === null || !Number.isFinite(value)) continue;
      values.set(x, value);
      times.add(x);
    }
    byGroup.set(group, values);
  }
  const xs = [...times].sort((a, b) => a - b);
  const names = [...byGroup.keys()].sort();
  return { xs, groups: names, ys: names.map((g) => xs.map((x) => byGroup.get(g)!.get(x) ?? null)) };
}

/** Sum of every point: the headline number above a chart. */
export function total(data: ChartData): number {
  return data.ys.reduce((s, ys) => s + ys.reduce<number>((a, y) => a + (y ?? 0), 0), 0);
}

export function hasData(data: ChartData): boolean {
  return data.xs.length > 0 && data.ys.some((ys) => ys.some((y) => y !== null));
}
