// The retention page (/ui/retention): an admin sees the dry run of stowage.retention, the tags and
// manifests a run would delete with their reasons and the kept tags; other users are told they
// may not see it, anonymous visitors to sign in; nothing is deleted by looking.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, openPage, screenshot, seriousViolations, startRegistry, type RegistryProcess } from './harness.js';
import { pushImageWithSkopeo, type Credentials } from './content.js';

const admin: Credentials = { user: 'admin', password: 'admin-ui-password' };
const reader: Credentials = { user: 'reader', password: 'reader-ui-password' };

describe('the retention page', () => {
  let registry: RegistryProcess;
  let browser: Browser;

  beforeAll(async () => {
    registry = await startRegistry({
      users: { admin: admin.password, reader: reader.password },
      admins: ['admin'],
      access: [
        '- { repositories: ["**"], users: [admin], actions: [pull, push, delete] }',
        '- { repositories: ["**"], users: [reader], actions: [pull] }',
      ],
      // Grace 0s: what the test pushes counts as old at once.
      stowage: ['gc: { grace: 0s }', 'retention: { policies: [ { repositories: ["team/**"], keeptags: [ { patterns: ["^latest$"] } ] } ] }'],
    });
    await pushImageWithSkopeo(registry.host, 'team/web', ['v1', 'v2'], { creds: admin });
    await pushImageWithSkopeo(registry.host, 'team/web', ['latest'], { app: 'other', creds: admin });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await registry?.stop();
  });

  async function signIn(page: Page, who: Credentials): Promise<void> {
    await page.goto(`${registry.url}/ui/sign-in`);
    await page.locator('[data-testid="sign-in-user"]').fill(who.user);
    await page.locator('[data-testid="sign-in-password"]').fill(who.password);
    await page.locator('[data-testid="sign-in-submit"]').click();
    await page.waitForURL((url) => url.pathname !== '/ui/sign-in');
  }

  async function tags(): Promise<string[]> {
    const basic = `Basic ${Buffer.from(`${admin.user}:${admin.password}`).toString('base64')}`;
    const res = await fetch(`${registry.url}/v2/team/web/tags/list`, { headers: { Authorization: basic } });
    return ((await res.json()) as { tags: string[] }).tags.sort();
  }

  test('shows an admin what a run would delete and why, and deletes nothing', async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await signIn(page, admin);
      await page.goto(`${registry.url}/ui/retention`);
      await page.locator('[data-testid="retention-totals"]').waitFor();
      expect(await page.locator('[data-testid="retention-tags-deleted"]').textContent()).toContain('2');
      const rows = await page.locator('[data-testid="retention-deleted-row"]').allTextContents();
      expect(rows).toHaveLength(3);
      expect(rows[0]).toMatch(/^v1.*policy 1: no keeptags rule matches it/);
      expect(rows[1]).toMatch(/^v2.*policy 1: no keeptags rule matches it/);
      expect(rows[2]).toMatch(/^manifest.*its tags were deleted \(v1, v2\)/);
      await page.locator('summary', { hasText: '1 tag kept' }).click();
      expect(await page.locator('[data-testid="retention-kept-row"]').allTextContents()).toEqual([
        expect.stringMatching(/latest.*policy 1 rule 1: matches \^latest\$/),
      ]);
      expect(await page.locator('nav[aria-label="Main"] [aria-current="page"]').textContent()).toBe('Retention');
      await screenshot(page, 'retention');
      expect(errors).toEqual([]);
      expect(await tags()).toEqual(['latest', 'v1', 'v2']);
    } finally {
      await context.close();
    }
  });

  test('axe-core finds no serious or critical violation on the retention page', async () => {
    const { context, page } = await openPage(browser, { bypassCSP: true });
    try {
      await signIn(page, admin);
      await page.goto(`${registry.url}/ui/retention`);
      await page.locator('[data-testid="retention-totals"]').waitFor();
      await page.locator('summary').first().click();
      expect(await seriousViolations(page)).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test('tells other users they may not see it, and anonymous visitors to sign in', async () => {
    const { context, page } = await openPage(browser);
    try {
      await page.goto(`${registry.url}/ui/retention`);
      await expect.poll(() => page.locator('[role="alert"]').textContent()).toContain('You need to sign in to see this.');
      await signIn(page, reader);
      await page.goto(`${registry.url}/ui/retention`);
      await expect.poll(() => page.locator('[role="alert"]').textContent()).toContain('You may not see this.');
      expect(await page.locator('[role="alert"]').textContent()).toContain('stowage.auth.admins');
    } finally {
      await context.close();
    }
  });
});
