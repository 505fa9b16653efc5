// The proxies page in chromium: stowage pulling through a second stowage (the upstream, filled by
// skopeo) under the prefix "hub". After pulls through it, the page shows the upstream online with
// its misses, hits and bytes fetched, and lists the repository it cached. Screenshot:
// test-artifacts/ui/proxies.png.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, openPage, screenshot, seriousViolations, startRegistry, type RegistryProcess } from './harness.js';
import { pushImageWithSkopeo } from './content.js';

let upstream: RegistryProcess;
let registry: RegistryProcess;
let browser: Browser;

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

beforeAll(async () => {
  upstream = await startRegistry();
  await pushImageWithSkopeo(upstream.host, 'library/alpine', ['3.20']);
  registry = await startRegistry({ extra: [`stowage: { proxies: [ { prefix: hub, remoteurl: "${upstream.url}" } ] }`] });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await registry?.stop();
  await upstream?.stop();
});

async function pullManifest(): Promise<number> {
  const res = await fetch(`${registry.url}/v2/hub/library/alpine/manifests/3.20`, { headers: { Accept: ACCEPT } });
  await res.arrayBuffer();
  return res.status;
}

test('shows the upstream online with its misses, hits and bytes, and what it cached', async () => {
  expect(await pullManifest()).toBe(200);
  expect(await pullManifest()).toBe(200);
  const { page, errors, context } = await openPage(browser);
  await page.goto(`${registry.url}/ui/proxies`);
  const card = page.locator('[data-testid="proxy-row"]');
  await card.waitFor();
  const text = (await card.textContent()) ?? '';
  expect(text).toContain(upstream.url);
  expect(text).toContain('online');
  expect(text).toMatch(/Misses\s*[1-9]/);
  expect(text).toMatch(/Hits\s*[1-9]/);
  expect(text).not.toMatch(/Fetched\s*0 B/);
  await page.locator('[data-testid="proxy-show-cached"]').click();
  await expect.poll(() => page.locator('[data-testid="cached-row"]').allTextContents()).toEqual([expect.stringContaining('hub/library/alpine')]);
  await screenshot(page, 'proxies');
  expect(errors).toEqual([]);
  await context.close();
});

test('axe-core finds no serious or critical violation on the proxies page', async () => {
  const { page, context } = await openPage(browser, { bypassCSP: true });
  await page.goto(`${registry.url}/ui/proxies`);
  await page.locator('[data-testid="proxy-row"]').waitFor();
  await page.locator('[data-testid="proxy-show-cached"]').click();
  await page.locator('[data-testid="cached-row"]').first().waitFor();
  expect(await seriousViolations(page)).toEqual([]);
  await context.close();
});
