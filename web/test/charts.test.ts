import { describe, expect, it } from 'vitest';
import { hasData, toChartData, toSeconds, total } from '../src/lib/charts';

const m = (i: number) => `2026-11-26T08:0${i}:00Z`;
const s = (i: number) => Date.parse(m(i)) / 1000;

describe('chart data from the overview series', () => {
  it('puts every group on the union of minutes, a minute without a point as null', () => {
    const data = toChartData({ wecom: [[m(1), 5]], crm: [[m(0), 3], [m(1), 1]] });
    expect(data.xs).toEqual([s(0), s(1)]);
    expect(data.groups).toEqual(['crm', 'wecom']);
    expect(data.ys).toEqual([[3, 1], [null, 5]]);
    expect(total(data)).toBe(9);
  });
  it('draws percentiles as groups (summaryLagMs / viewLatencyMs)', () => {
    const data = toChartData({ p99: [[m(0), 1500], [m(1), 2000]], p50: [[m(0), 200], [m(1), 300]] });
    expect(data.groups).toEqual(['p50', 'p99']);
    expect(data.ys).toEqual([[200, 300], [1500, 2000]]);
  });
  it('has no data for an empty or missing series, and skips unreadable minutes', () => {
    expect(hasData(toChartData({}))).toBe(false);
    expect(hasData(toChartData(undefined))).toBe(false);
    expect(hasData(toChartData({ crm: [['not a time', 1]] }))).toBe(false);
    expect(hasData(toChartData({ crm: [[m(0), 1]] }))).toBe(true);
  });
  it('reads ISO minutes as unix seconds', () => {
    expect(toSeconds('2026-11-26T08:00:00Z')).toBe(1795680000);
    expect(toSeconds('bad')).toBeNull();
  });
});
