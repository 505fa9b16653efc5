// The web UI with auth and access rules, once with auth.htpasswd (Basic) and once with auth.token
// and stowage's own token endpoint (the UI follows Bearer challenges as docker does): anonymous
// visitors see only what anonymous may pull (and the browser never pops up its own login dialog),
// signing in shows the user's repositories only and offers only the actions the user may take, a
// wrong password is refused, deleting works for a user who may delete and is refused by the
// registry for one who may not.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, openPage, screenshot, startRegistry, type RegistryProcess } from './harness.js';
import { pushImageWithSkopeo, type Credentials } from './content.js';

const alice: Credentials = { user: 'alice', password: 'alice-ui-password' };
const reader: Credentials = { user: 'reader', password: 'reader-ui-password' };

for (const mode of ['htpasswd', 'token'] as const) {
  describe(`with auth.${mode}`, () => {
    let registry: RegistryProcess;
    let browser: Browser;

    beforeAll(async () => {
      registry = await startRegistry({
        auth: mode,
        users: { alice: alice.password, reader: reader.password },
        access: [
          '- { repositories: ["public/**"], anonymous: true, actions: [pull] }',
          '- { repositories: ["**"], users: [alice], actions: [pull, push, delete] }',
          '- { repositories: ["team/**", "public/**"], users: [reader], actions: [pull] }',
        ],
      });
      await pushImageWithSkopeo(registry.host, 'public/hello', ['1.0'], { creds: alice });
      await pushImageWithSkopeo(registry.host, 'team/web', ['v1', 'v2'], { creds: alice });
      await pushImageWithSkopeo(registry.host, 'secret/db', ['15'], { creds: alice });
      browser = await launchBrowser();
    });

    afterAll(async () => {
      await browser?.close();
      await registry?.stop();
    });

    /** The tags list as alice reads it, with Basic or with a token from the registry's endpoint. */
    async function tagsAsAlice(name: string): Promise<string[]> {
      const basic = `Basic ${Buffer.from(`${alice.user}:${alice.password}`).toString('base64')}`;
      let authorization = basic;
      if (mode === 'token') {
        const issued = await fetch(`${registry.url}/token?service=stowage-ui&scope=repository:${name}:pull`, { headers: { Authorization: basic } });
        authorization = `Bearer ${((await issued.json()) as { token: string }).token}`;
      }
      const res = await fetch(`${registry.url}/v2/${name}/tags/list`, { headers: { Authorization: authorization } });
      return ((await res.json()) as { tags: string[] }).tags;
    }

    async function rowNames(page: Page): Promise<string[]> {
      return page.locator('[data-testid="repository-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name') ?? ''));
    }

    /** Fills the form and submits; the credentials are checked before they are kept. */
    async function submitSignIn(page: Page, who: Credentials): Promise<void> {
      await page.goto(`${registry.url}/ui/sign-in`);
      await page.locator('[data-testid="sign-in-user"]').fill(who.user);
      await page.locator('[data-testid="sign-in-password"]').fill(who.password);
      await page.locator('[data-testid="sign-in-submit"]').click();
    }

    /** Signs in and waits until the UI has kept the credentials and left the form. */
    async function signIn(page: Page, who: Credentials): Promise<void> {
      await submitSignIn(page, who);
      await page.waitForURL((url) => url.pathname !== '/ui/sign-in');
    }

    describe('signed out', () => {
      test('anonymous visitors see what anonymous may pull, with no login dialog of the browser', async () => {
        const { page, errors, context } = await openPage(browser);
        let dialogs = 0;
        page.on('dialog', () => dialogs++);
        await page.goto(`${registry.url}/ui/`);
        await expect.poll(() => rowNames(page)).toEqual(['public/hello']);
        expect(await page.locator('[data-testid="sign-in-link"]').isVisible()).toBe(true);
        expect(dialogs).toBe(0);
        await screenshot(page, `auth-${mode}-anonymous`);
        expect(errors).toEqual([]);
        await context.close();
      });

      test('a repository anonymous may not pull is not shown', async () => {
        const { page, context } = await openPage(browser);
        await page.goto(`${registry.url}/ui/r/secret/db`);
        await expect.poll(() => page.locator('main').textContent()).toMatch(/sign in|not allowed|denied|unauthori[sz]ed/i);
        expect(await page.locator('[data-testid="tag-row"]').count()).toBe(0);
        await context.close();
      });
    });

    describe('signed in', () => {
      test('a wrong password is refused with a message', async () => {
        const { page, context } = await openPage(browser);
        await submitSignIn(page, { user: 'reader', password: 'not-the-password' });
        await expect.poll(() => page.locator('[data-testid="sign-in-error"]').textContent()).toMatch(/wrong user name or password/i);
        expect(new URL(page.url()).pathname).toBe('/ui/sign-in');
        await context.close();
      });

      test("a reader sees the reader's repositories only, and is offered no delete", async () => {
        const { page, errors, context } = await openPage(browser);
        await signIn(page, reader);
        await page.goto(`${registry.url}/ui/`);
        await expect.poll(() => rowNames(page)).toEqual(['public/hello', 'team/web']);
        await page.goto(`${registry.url}/ui/r/team/web`);
        await page.locator('[data-testid="tag-row"]').first().waitFor();
        expect(await page.locator('[data-testid="delete-selected"]').count()).toBe(0);
        expect(await page.locator('[data-testid="tag-select"]').count()).toBe(0);
        expect(await page.locator('[data-testid="retag-form"]').count()).toBe(0);
        await screenshot(page, `auth-${mode}-reader`);
        // The registry refuses what the UI does not offer: the same request with the reader's
        // credentials (in token mode with a token asked for the delete: it comes without it, and
        // the registry, knowing who asks, answers DENIED as for Basic).
        const refused = await page.evaluate(
          async ({ basic, token }) => {
            let authorization = basic;
            if (token) {
              const issued = await fetch('/token?service=stowage-ui&scope=repository:team/web:delete', { headers: { Authorization: basic } });
              authorization = `Bearer ${((await issued.json()) as { token: string }).token}`;
            }
            const res = await fetch('/v2/team/web/manifests/v1', {
              method: 'DELETE',
              headers: { Authorization: authorization, 'X-Stowage-UI': '1' },
            });
            return res.status;
          },
          { basic: `Basic ${btoa(`${reader.user}:${reader.password}`)}`, token: mode === 'token' },
        );
        expect(refused).toBe(403);
        expect(await tagsAsAlice('team/web')).toContain('v1');
        expect(errors).toEqual([]);
        await context.close();
      });

      test('a user who may delete deletes a tag; signing out returns to the anonymous view', async () => {
        const { page, errors, context } = await openPage(browser);
        await signIn(page, alice);
        await page.goto(`${registry.url}/ui/`);
        await expect.poll(() => rowNames(page)).toEqual(['public/hello', 'secret/db', 'team/web']);
        await page.goto(`${registry.url}/ui/r/team/web`);
        await page.locator('[data-testid="tag-row"][data-tag="v2"] [data-testid="tag-select"]').check();
        await page.locator('[data-testid="delete-selected"]').click();
        await page.locator('[data-testid="confirm-delete"]').click();
        await expect
          .poll(() => page.locator('[data-testid="tag-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-tag'))))
          .toEqual(['v1']);
        expect(await tagsAsAlice('team/web')).toEqual(['v1']);
        await page.locator('[data-testid="sign-out"]').click();
        await page.goto(`${registry.url}/ui/`);
        await expect.poll(() => rowNames(page)).toEqual(['public/hello']);
        expect(errors).toEqual([]);
        await context.close();
      });
    });
  });
}
