import { describe, expect, it } from 'vitest';
import { missingKeys, t, lang, setLang } from '../src/lib/i18n';

describe('i18n', () => {
  it('has every key in both languages', () => {
    expect(missingKeys()).toEqual({ zh: [], en: [] });
  });
  it('is Chinese by default and switches to English', () => {
    expect(lang()).toBe('zh');
    expect(t('nav.reviews')).toBe('人工确认');
    setLang('en');
    expect(t('nav.reviews')).toBe('Reviews');
    setLang('zh');
  });
  it('fills placeholders', () => {
    expect(t('sync.retrying', { n: 3, max: 5 }, 'en')).toBe('Retrying (3 of 5)');
    expect(t('sidebar.removeTag', { tag: 'VIP' }, 'zh')).toBe('移除标签 VIP');
  });
});
