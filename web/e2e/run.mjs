// Browser scenarios against a running local host, driven with playwright-core in Debian's Chromium (no browser
// download). Called by tests/Cdp.Tests/Web/BrowserTests.cs, one process per scenario:
//   node e2e/run.mjs <scenario> '<json: {baseUrl, weComUrl, shots, ...scenario inputs}>'
// Prints one JSON line with what it saw; exits 1 with the reason (and a screenshot "<scenario>-failed.png") on failure.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [scenario, json] = process.argv.slice(2);
const input = JSON.parse(json ?? '{}');
const { baseUrl, weComUrl, shots } = input;
mkdirSync(shots, { recursive: true });

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launch({ executablePath: process.env.CDP_CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_FLAGS });
const TIMEOUT = Number(process.env.CDP_E2E_TIMEOUT_MS ?? 60000);

/** A browser context whose trips to WeCom's login hosts land on the WeCom stand-in instead. */
async function newPage(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN', baseURL: baseUrl });
  context.setDefaultTimeout(TIMEOUT);
  await context.route(/^https:\/\/(login\.work\.weixin\.qq\.com|open\.weixin\.qq\.com)\//, (route) => {
    const url = new URL(route.request().url());
    return route.fulfill({ status: 302, headers: { location: weComUrl.replace(/\/$/, '') + url.pathname + url.search } });
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) errors.push(m.text()); });
  return { context, page, errors };
}

/** Opens path signed out, follows the page's WeCom sign-in link through the stand-in, and returns signed in at path. */
async function signIn(page, path) {
  await page.goto(path);
  const link = page.getByRole('link', { name: '企业微信扫码登录' });
  await link.waitFor();
  await link.click();
  await page.waitForURL((u) => u.pathname + u.search === path || (path === '/' && u.pathname !== '/'));
}

const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });

const scenarios = {
  /** The console's sign-in page, then WeCom's QR login (the stand-in plays the scan), then the console as that member. */
  async signin() {
    const { page, errors } = await newPage();
    await page.goto('/');
    await page.getByRole('heading', { name: '登录 CDP' }).waitFor();
    await shot(page, 'console-signin');
    await page.getByRole('link', { name: '企业微信扫码登录' }).click();
    await page.getByRole('navigation').getByText(input.userId, { exact: true }).waitFor();
    const menu = await page.getByRole('navigation').getByRole('link').allTextContents();
    return { url: page.url(), menu, errors };
  },

  /** Sidebar for one contact: change its tags (WeCom fails the first push), see the sync succeed; add a follow-up. */
  async sidebar() {
    const { page, errors } = await newPage({ width: 390, height: 844 });
    await signIn(page, `/sidebar/?contactId=${input.contactId}`);
    await page.getByRole('heading', { name: input.contactName }).waitFor();
    const tagInput = page.getByRole('textbox', { name: '输入标签后回车' });
    await tagInput.fill(input.tag);
    await tagInput.press('Enter');
    await page.getByRole('button', { name: '保存' }).click();
    const state = page.locator('[data-sync-status]');
    const seen = new Set();
    const deadline = Date.now() + TIMEOUT;
    for (;;) {
      const status = await state.getAttribute('data-sync-status').catch(() => null);
      if (status) seen.add(`${status}:${await state.getAttribute('data-attempts')}:${await state.textContent()}`);
      if (status === 'succeeded' && Number(await state.getAttribute('data-attempts')) >= (input.expectAttempts ?? 1)) break;
      if (Date.now() > deadline) throw new Error(`tags never synced; saw ${[...seen].join(', ')}`);
      await page.waitForTimeout(150);
    }
    const tagsSynced = await state.textContent();
    await page.getByRole('textbox', { name: '新增跟进' }).fill(input.followUp);
    await page.getByRole('button', { name: '新增跟进' }).click();
    await page.locator('#follow-ups li', { hasText: input.followUp }).waitFor();
    await page.locator('[data-sync-status="succeeded"]').waitFor();
    await shot(page, 'sidebar');
    return { seen: [...seen], tagsSynced, tags: await page.locator('#tags li.chip').allTextContents(), errors };
  },

  /** Console search with a misspelt short name -> the account's 360. */
  async search() {
    const { page, errors } = await newPage();
    await signIn(page, '/search');
    const box = page.getByRole('searchbox', { name: '搜索客户' });
    await box.fill(input.query);
    await box.press('Enter');
    await page.getByRole('link', { name: input.expectName }).click();
    await page.getByRole('heading', { level: 1, name: new RegExp(input.expectName) }).waitFor();
    await page.locator('#summary').waitFor();
    await page.waitForTimeout(300);
    await shot(page, 'console-account-360');
    return { url: page.url(), errors };
  },

  /** Sidebar: "call" binds a privacy number; a slow provider shows "binding..." until X arrives to dial. */
  async call() {
    const { page, errors } = await newPage({ width: 390, height: 844 });
    await signIn(page, `/sidebar/?contactId=${input.contactId}`);
    await page.getByRole('button', { name: '拨打（隐私号）' }).click();
    const state = page.locator('[data-call-state]');
    await state.waitFor();
    const firstState = await state.getAttribute('data-call-state');
    await page.locator('[data-call-state="BIND"]').waitFor();
    await shot(page, 'sidebar-call');
    return { firstState, virtualNumber: await page.locator('[data-virtual-number]').textContent(), errors };
  },

  /** The review queue: the incoming record beside its candidates; merge into one; the ingestion becomes processed. */
  async review() {
    const { page, errors } = await newPage();
    await signIn(page, '/reviews');
    const review = page.locator(`[data-review-id="${input.reviewId}"]`);
    await review.waitFor();
    const highlighted = await review.locator('td.hl').allTextContents();
    await shot(page, 'console-reviews');
    await review.getByRole('button', { name: `合并到此企业 ${input.targetName}` }).click();
    const status = review.locator('[data-ingestion-status]');
    await status.waitFor();
    return { ingestionStatus: await status.getAttribute('data-ingestion-status'), highlighted, errors };
  },

  /** Sync tasks filtered to failed; re-drive one and see it succeed. */
  async redrive() {
    const { page, errors } = await newPage();
    await signIn(page, '/sync?status=failed');
    const row = page.locator(`tr[data-task-id="${input.taskId}"]`);
    await row.waitFor();
    await shot(page, 'console-sync-tasks');
    await row.getByRole('button', { name: /重新同步/ }).click();
    await page.locator(`tr[data-task-id="${input.taskId}"][data-status="succeeded"]`).waitFor();
    return { errors };
  },

  /** The overview: charts drawn from the platform's own per-minute data, beside the open alerts. */
  async dashboard() {
    const { page, errors } = await newPage();
    await signIn(page, '/overview');
    await page.locator('figure.chart [data-drawn="true"]').first().waitFor();
    const drawn = await page.locator('figure.chart:has([data-drawn="true"])').evaluateAll((fs) => fs.map((f) => f.getAttribute('aria-label')));
    await shot(page, 'console-overview');
    return { drawn, errors };
  },

  /** A salesperson has no review page: not in the menu, and refused when opened by address. */
  async refused() {
    const { page, errors } = await newPage();
    await signIn(page, '/reviews');
    await page.locator('[data-forbidden]').waitFor();
    const menu = await page.getByRole('navigation').getByRole('link').allTextContents();
    await shot(page, 'console-refused');
    return { menu, text: await page.locator('[data-forbidden]').textContent(), errors };
  },
};

try {
  if (!scenarios[scenario]) throw new Error(`unknown scenario ${scenario}`);
  const result = await scenarios[scenario]();
  console.log(JSON.stringify({ ok: true, ...result }));
  await browser.close();
} catch (e) {
  const failures = input.failures ?? shots;
  for (const context of browser.contexts()) for (const p of context.pages()) await p.screenshot({ path: join(failures, `${scenario}-failed.png`) }).catch(() => {});
  console.log(JSON.stringify({ ok: false, error: String(e?.stack ?? e) }));
  await browser.close();
  process.exit(1);
}
