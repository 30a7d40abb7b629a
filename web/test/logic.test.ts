import { describe, expect, it } from 'vitest';
import { matchingFields, recordRows } from '../src/lib/review';
import { contactFromUrl, insideWeCom } from '../src/lib/wecom';
import { allowedMenu, homePath, permissionFor } from '../src/console/nav';
import { itemsOf, query } from '../src/lib/api';

describe('review highlighting', () => {
  const incoming = { record: { company: '华瑞科技', city: '上海', creditCode: '91310000ABC' }, companyShortName: '华瑞科技' };
  it('highlights the candidate fields that agree with the incoming record', () => {
    expect([...matchingFields(incoming, { name: '华瑞科技有限公司', city: '上海', creditCode: null })].sort()).toEqual(['city', 'name']);
    expect([...matchingFields(incoming, { name: '远大重工', city: '北京', creditCode: '91310000ABC' })]).toEqual(['creditCode']);
  });
  it('shows the record fields in a fixed order without blanks', () => {
    expect(recordRows({ city: '上海', name: '韦小宝', email: '' })).toEqual([['name', '韦小宝'], ['city', '上海']]);
  });
});

describe('sidebar contact', () => {
  it('comes from the URL outside WeCom', () => {
    expect(contactFromUrl('?contactId=0195f3a0-1111-7000-8000-000000000001')).toEqual({ contactId: '0195f3a0-1111-7000-8000-000000000001' });
    expect(contactFromUrl('?externalUserId=wmAbc_123')).toEqual({ externalUserId: 'wmAbc_123' });
    expect(contactFromUrl('?contactId=<script>')).toBeNull();
    expect(contactFromUrl('')).toBeNull();
  });
  it('knows the WeCom browser', () => {
    expect(insideWeCom('Mozilla/5.0 ... wxwork/4.1.0 MicroMessenger/7.0.1')).toBe(true);
    expect(insideWeCom('Mozilla/5.0 Chrome/120')).toBe(false);
  });
});

describe('pages follow the role', () => {
  const sales = ['customers:read', 'customers:write', 'leads:convert', 'calls:bind'];
  it('never shows a salesperson the review or admin pages', () => {
    const menu = allowedMenu(sales).map((p) => p.path);
    expect(menu).toEqual(['/search']);
    expect(homePath(sales)).toBe('/search');
  });
  it('names the permission each path needs', () => {
    expect(permissionFor('/reviews')).toBe('identity:review');
    expect(permissionFor('/accounts/123')).toBe('customers:read');
    expect(permissionFor('/admin/keys')).toBe('admin');
    expect(permissionFor('/nowhere')).toBeUndefined();
  });
});

describe('api helpers', () => {
  it('builds queries without empty values', () => {
    expect(query({ q: '腾讯', type: '', limit: 5, x: undefined })).toBe('?q=%E8%85%BE%E8%AE%AF&limit=5');
    expect(query({})).toBe('');
  });
  it('reads lists as arrays or pages', () => {
    expect(itemsOf([1, 2])).toEqual([1, 2]);
    expect(itemsOf({ items: [3] })).toEqual([3]);
    expect(itemsOf({ matches: [4] })).toEqual([4]);
    expect(itemsOf(null)).toEqual([]);
  });
});

describe('paging', () => {
  it('puts the next cursor on the same query', async () => {
    const { withCursor } = await import('../src/lib/api');
    expect(withCursor('/api/audit?actor=a&limit=100', 'abc')).toBe('/api/audit?actor=a&limit=100&cursor=abc');
    expect(withCursor('/api/ingestions?cursor=old', 'new')).toBe('/api/ingestions?cursor=new');
    expect(withCursor('/api/orchestrations', 'x+y')).toBe('/api/orchestrations?cursor=x%2By');
  });
});
