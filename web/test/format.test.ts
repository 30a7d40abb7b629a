import { describe, expect, it } from 'vitest';
import { addTag, formatAgo, formatAmount, formatTime, gradeTone, maskEmail, maskField, maskPhone, splitTags, syncStateText, syncStillMoving } from '../src/lib/format';

describe('masking', () => {
  it('masks a mainland mobile as the server does', () => {
    expect(maskPhone('13812345678')).toBe('138****5678');
    expect(maskPhone('+86 138-1234-5678')).toBe('138****5678');
    expect(maskPhone('12345')).toBe('****');
  });
  it('leaves an already masked value alone', () => {
    expect(maskPhone('138****5678')).toBe('138****5678');
    expect(maskEmail('w***@example.com')).toBe('w***@example.com');
  });
  it('masks an email keeping the first character and the domain', () => {
    expect(maskEmail('wang@example.com')).toBe('w***@example.com');
    expect(maskEmail('no-at-sign')).toBe('***');
  });
  it('masks channel ids to their first four characters', () => {
    expect(maskField('weComExternalUserId', 'wmABCDEFGHIJ')).toBe('wmAB***');
    expect(maskField('weChatId', 'short')).toBe('***');
    expect(maskField('mobilePhone', '13900001111')).toBe('139****1111');
    expect(maskField('email', '')).toBe('');
  });
});

describe('sync state text', () => {
  it('says pending, retrying n of 5, failed and synced in Chinese', () => {
    expect(syncStateText({ status: 'pending', attempts: 0 }, 5, 'zh')).toBe('等待同步');
    expect(syncStateText({ status: 'retrying', attempts: 2 }, 5, 'zh')).toBe('重试中（第 2 次，共 5 次）');
    expect(syncStateText({ status: 'failed', attempts: 6 }, 5, 'zh')).toBe('同步失败');
    expect(syncStateText({ status: 'succeeded', attempts: 1 }, 5, 'zh')).toBe('已同步');
  });
  it('says the same in English', () => {
    expect(syncStateText({ status: 'retrying', attempts: 1 }, 5, 'en')).toBe('Retrying (1 of 5)');
    expect(syncStateText(null, 5, 'en')).toBe('Unknown state');
  });
  it('keeps polling only while a task can still move', () => {
    expect(syncStillMoving('pending')).toBe(true);
    expect(syncStillMoving('retrying')).toBe(true);
    expect(syncStillMoving('failed')).toBe(false);
    expect(syncStillMoving('succeeded')).toBe(false);
  });
});

describe('formatting', () => {
  it('formats times, ages and amounts', () => {
    expect(formatTime('')).toBe('');
    expect(formatTime('not a date')).toBe('not a date');
    expect(formatTime('2026-11-26T07:04:00Z')).toMatch(/^2026-11-2\d \d\d:04$/);
    const now = new Date('2026-11-26T08:00:00Z');
    expect(formatAgo('2026-11-26T07:57:00Z', now, 'zh')).toBe('3 分钟前');
    expect(formatAgo('2026-11-24T08:00:00Z', now, 'en')).toBe('2 d ago');
    expect(formatAmount(1234567.5)).toBe('¥1,234,567.5');
  });
  it('tones grades', () => {
    expect(gradeTone('A')).toBe('good');
    expect(gradeTone('c')).toBe('low');
    expect(gradeTone(null)).toBe('none');
  });
});

describe('tags', () => {
  it('adds a trimmed tag once, at most 30 characters', () => {
    expect(addTag(['VIP'], '  华东 ')).toEqual(['VIP', '华东']);
    expect(addTag(['VIP'], 'VIP')).toEqual(['VIP']);
    expect(addTag([], '   ')).toEqual([]);
    expect(addTag([], 'x'.repeat(40))[0]).toHaveLength(30);
  });
  it('splits corp tags from free tags', () => {
    expect(splitTags(['VIP', '老客户', '华东'], ['VIP', '华东'])).toEqual({ corp: ['VIP', '华东'], free: ['老客户'] });
  });
});
