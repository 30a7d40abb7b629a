import { describe, expect, it } from 'vitest';
import { counter, hasData, pivot, seriesOf, toChartData, toSeconds, total } from '../src/lib/charts';

const m = (i: number) => `2026-11-26T08:0${i}:00Z`;
const s = (i: number) => Date.parse(m(i)) / 1000;

describe('chart data', () => {
  it('pivots per-minute points by channel, gaps as null', () => {
    const data = pivot([
      { minute: m(0), channel: 'crm', count: 3 },
      { minute: m(1), channel: 'crm', count: 1 },
      { minute: m(1), channel: 'wecom', count: 5 },
    ]);
    expect(data.xs).toEqual([s(0), s(1)]);
    expect(data.groups).toEqual(['crm', 'wecom']);
    expect(data.ys).toEqual([[3, 1], [null, 5]]);
    expect(total(data)).toBe(9);
  });
  it('turns several numeric fields of a point into groups (p50 / p99)', () => {
    const data = pivot([{ at: m(0), p50: 0.2, p99: 1.5 }, { at: m(1), p50: 0.3, p99: 2 }]);
    expect(data.groups).toEqual(['p50', 'p99']);
    expect(data.ys).toEqual([[0.2, 0.3], [1.5, 2]]);
  });
  it('reads an object of group -> points', () => {
    const data = toChartData({ 'identity-resolution': [{ minute: m(0), value: 7 }], cleansing: [{ minute: m(0), value: 2 }] });
    expect(data.groups).toEqual(['cleansing', 'identity-resolution']);
    expect(data.ys).toEqual([[2], [7]]);
  });
  it('finds a series at the top level or under "series", by any of its names', () => {
    const overview = { series: { ingested: [{ minute: m(0), channel: 'crm', count: 2 }] }, openReviews: 4, counts: { failedSyncs: 1 }, openAlerts: [{}, {}] };
    expect(hasData(seriesOf(overview, 'ingest', 'ingested'))).toBe(true);
    expect(hasData(seriesOf(overview, 'backlog'))).toBe(false);
    expect(counter(overview, 'openReviews')).toBe(4);
    expect(counter(overview, 'failedSyncs')).toBe(1);
    expect(counter(overview, 'openAlerts')).toBe(2);
    expect(counter(null, 'x')).toBeNull();
  });
  it('reads seconds, milliseconds and ISO times', () => {
    expect(toSeconds(1700000000)).toBe(1700000000);
    expect(toSeconds(1700000000000)).toBe(1700000000);
    expect(toSeconds('bad')).toBeNull();
  });
});
