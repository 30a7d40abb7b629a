// The sidebar learns which external contact the chat is with: inside WeCom through the JS-SDK (wx.config +
// wx.agentConfig signed by the server, then invoke('getCurExternalContact')); outside from the URL.
import { api, query } from './api';

export interface ContactRef {
  contactId?: string;
  externalUserId?: string;
}

export function contactFromUrl(search: string): ContactRef | null {
  const q = new URLSearchParams(search);
  const contactId = q.get('contactId')?.trim();
  const externalUserId = q.get('externalUserId')?.trim();
  if (contactId && /^[0-9a-f-]{36}$/i.test(contactId)) return { contactId };
  if (externalUserId && /^[A-Za-z0-9_-]{1,64}$/.test(externalUserId)) return { externalUserId };
  return null;
}

export function insideWeCom(userAgent: string): boolean {
  return /wxwork/i.test(userAgent);
}

interface JsSdkConfig {
  corpId: string;
  agentId: string | number;
  timestamp: number | string;
  nonceStr: string;
  signature: string;
  agentSignature: string;
}

interface Wx {
  config(c: Record<string, unknown>): void;
  ready(f: () => void): void;
  error(f: (e: unknown) => void): void;
  agentConfig(c: Record<string, unknown>): void;
  invoke(name: string, args: Record<string, unknown>, cb: (r: Record<string, string>) => void): void;
}

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(s);
  });
}

/** Inside WeCom: the external userid of the chat's contact (null when the page was not opened from a chat). */
export async function currentExternalContact(): Promise<string | null> {
  const url = location.href.split('#')[0];
  const cfg = await api<JsSdkConfig>(`/api/wecom/jssdk-config${query({ url })}`);
  await loadScript('https://res.wx.qq.com/open/js/jweixin-1.2.0.js');
  await loadScript('https://open.work.weixin.qq.com/wwopen/js/jwxwork-1.0.0.js');
  const wx = (window as unknown as { wx: Wx }).wx;
  await new Promise<void>((resolve, reject) => {
    wx.config({ beta: true, debug: false, appId: cfg.corpId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr, signature: cfg.signature, jsApiList: ['agentConfig'] });
    wx.ready(resolve);
    wx.error(reject);
  });
  await new Promise<void>((resolve, reject) => {
    wx.agentConfig({
      corpid: cfg.corpId, agentid: String(cfg.agentId), timestamp: cfg.timestamp, nonceStr: cfg.nonceStr, signature: cfg.agentSignature,
      jsApiList: ['getCurExternalContact', 'getContext'], success: resolve, fail: reject,
    });
  });
  return new Promise((resolve) => {
    wx.invoke('getCurExternalContact', {}, (r) => resolve(r.err_msg === 'getCurExternalContact:ok' ? r.userId : null));
  });
}

/**
 * The CDP contact id for a page's contact reference. An external userid is looked up on the server
 * (GET /api/contacts/by-external/{id}), which answers only for a contact the signed-in staff member follows.
 */
export async function resolveContactId(ref: ContactRef): Promise<string> {
  if (ref.contactId) return ref.contactId;
  const view = await api<{ contact: { contactId: string } }>(`/api/contacts/by-external/${encodeURIComponent(ref.externalUserId ?? '')}`);
  return view.contact.contactId;
}
