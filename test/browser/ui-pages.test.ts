// The web UI's pages in chromium on a registry without auth, after real pushes by skopeo: each page
// shows what the registry holds, search and filters narrow, deep links and back/forward work, a
// 230-tag repository costs one page of tags (never a manifest request per tag), deleting and
// retagging work, dark mode and a phone's width render, no script or CSP error on any page,
// and axe-core finds no serious or critical violation. Screenshots: test-artifacts/ui/.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, openPage, screenshot, seriousViolations, startRegistry, type RegistryProcess } from './harness.js';
import { SIGNATURE_TYPE, addTags, descriptorOf, pushImageWithSkopeo, pushIndexWithSkopeo, pushSignature } from './content.js';

let registry: RegistryProcess;
let browser: Browser;
let indexChildren: string[];

beforeAll(async () => {
  registry = await startRegistry({ extra: ['stowage: { immutable: [ { repositories: ["release/**"], tags: ["v*"] } ] }'] });
  await pushImageWithSkopeo(registry.host, 'team/web', ['v1', 'latest']);
  await pushImageWithSkopeo(registry.host, 'team/worker', ['1.0']);
  const index = await pushIndexWithSkopeo(registry.host, 'team/api', 'v2');
  indexChildren = index.children.map((c) => c.digest);
  await pushImageWithSkopeo(registry.host, 'tools/cli', ['stable']);
  await pushImageWithSkopeo(registry.host, 'big/many', ['base']);
  await addTags(registry.url, 'big/many', 'base', 'build', 230);
  await pushSignature(registry.url, 'team/web', await descriptorOf(registry.url, 'team/web', 'v1'));
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await registry?.stop();
});

async function tagsOf(name: string): Promise<string[]> {
  const res = await fetch(`${registry.url}/v2/${name}/tags/list`);
  return ((await res.json()) as { tags: string[] }).tags;
}

async function rowNames(page: Page): Promise<string[]> {
  return page.locator('[data-testid="repository-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name') ?? ''));
}

async function tagRows(page: Page): Promise<string[]> {
  return page.locator('[data-testid="tag-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-tag') ?? ''));
}

describe('home', () => {
  test('lists every repository with its tag count, and the registry totals', async () => {
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/`);
    await page.locator('[data-testid="repository-row"]').first().waitFor();
    expect(await rowNames(page)).toEqual(['big/many', 'team/api', 'team/web', 'team/worker', 'tools/cli']);
    const many = page.locator('[data-testid="repository-row"][data-name="big/many"]');
    await expect.poll(() => many.textContent()).toContain('231');
    await expect.poll(() => page.locator('[data-testid="totals"]').textContent()).toMatch(/5/);
    // The push and pull snippet names the host the browser used.
    expect(await page.content()).toContain(registry.host);
    await screenshot(page, 'home');
    expect(errors).toEqual([]);
    await context.close();
  });

  test('search narrows the list as you type, and "/" focuses it', async () => {
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/`);
    await page.locator('[data-testid="repository-row"]').first().waitFor();
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('search');
    await page.keyboard.type('work');
    await expect.poll(() => rowNames(page)).toEqual(['team/worker']);
    // The search is in the URL: a reload or a shared link shows the same list.
    expect(new URL(page.url()).searchParams.get('q')).toBe('work');
    await page.reload();
    await expect.poll(() => rowNames(page)).toEqual(['team/worker']);
    expect(errors).toEqual([]);
    await context.close();
  });

  test('the namespace filter shows one namespace', async () => {
    const { page, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/`);
    await page.locator('[data-testid="repository-row"]').first().waitFor();
    await page.locator('[data-testid="namespace-filter"]').selectOption('team');
    await expect.poll(() => rowNames(page)).toEqual(['team/api', 'team/web', 'team/worker']);
    await context.close();
  });

  test('sorting by tags puts the repository with most tags first', async () => {
    const { page, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/`);
    await page.locator('[data-testid="repository-row"]').first().waitFor();
    await page.locator('[data-testid="sort-tags"]').click();
    await expect.poll(async () => (await rowNames(page))[0]).toBe('big/many');
    await page.locator('[data-testid="sort-tags"]').click();
    await expect.poll(async () => (await rowNames(page)).at(-1)).toBe('big/many');
    await context.close();
  });
});

describe('repository', () => {
  test('shows each tag with digest, platform and pull commands for every client', async () => {
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/`);
    await page.locator('[data-testid="repository-row"][data-name="team/web"] a').first().click();
    await page.waitForURL(`${registry.url}/ui/r/team/web`);
    await expect.poll(() => tagRows(page)).toEqual(['latest', 'v1']);
    const v1 = page.locator('[data-testid="tag-row"][data-tag="v1"]');
    const digest = (await descriptorOf(registry.url, 'team/web', 'v1')).digest;
    expect(await v1.textContent()).toContain(digest.slice(7, 19));
    expect(await v1.textContent()).toContain('linux/amd64');
    const commands = await page.locator('[data-testid="pull-command"]').allTextContents();
    const all = commands.join('\n');
    for (const client of ['docker', 'podman', 'skopeo', 'ctr', 'nerdctl']) {
      await page.locator(`[data-testid="pull-tab-${client}"]`).click();
      const shown = (await page.locator('[data-testid="pull-command"]').allTextContents()).join('\n');
      expect(shown, client).toContain(client === 'skopeo' ? `docker://${registry.host}/team/web` : `${registry.host}/team/web`);
    }
    expect(all).toContain(registry.host);
    await screenshot(page, 'repository');
    expect(errors).toEqual([]);
    await context.close();
  });

  test('a repository of 231 tags shows one page and asks for one page of tags, never a manifest per tag', async () => {
    const { page, requests, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/r/big/many`);
    await page.locator('[data-testid="tag-row"]').first().waitFor();
    const first = await tagRows(page);
    expect(first.length).toBe(100);
    expect(first[0]).toBe('base');
    expect(requests.filter((r) => r.includes('/manifests/'))).toEqual([]);
    expect(requests.filter((r) => r.includes('/api/v1/tags/')).length).toBe(1);
    expect(requests.filter((r) => r.startsWith('GET /api/') || r.includes('/v2/')).length).toBeLessThanOrEqual(4);
    await page.locator('[data-testid="more-tags"]').click();
    await expect.poll(async () => (await tagRows(page)).length).toBe(200);
    expect(requests.filter((r) => r.includes('/api/v1/tags/')).length).toBe(2);
    await context.close();
  });

  test('the tag filter narrows the tags', async () => {
    const { page, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/r/big/many`);
    await page.locator('[data-testid="tag-row"]').first().waitFor();
    await page.locator('[data-testid="tag-filter"]').fill('build-021');
    await expect.poll(() => tagRows(page)).toEqual(Array.from({ length: 10 }, (_, i) => `build-021${i}`));
    await context.close();
  });

  test('deleting selected tags asks first, says what goes, and removes them', async () => {
    await pushImageWithSkopeo(registry.host, 'team/scratch', ['keep', 'old-1', 'old-2']);
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/r/team/scratch`);
    await page.locator('[data-testid="tag-row"]').first().waitFor();
    for (const tag of ['old-1', 'old-2']) await page.locator(`[data-testid="tag-row"][data-tag="${tag}"] [data-testid="tag-select"]`).check();
    await page.locator('[data-testid="delete-selected"]').click();
    const list = page.locator('[data-testid="delete-list"]');
    await list.waitFor();
    expect(await list.textContent()).toContain('old-1');
    expect(await list.textContent()).toContain('old-2');
    expect(await list.textContent()).not.toContain('keep');
    await screenshot(page, 'repository-delete-dialog');
    await page.locator('[data-testid="confirm-delete"]').click();
    await expect.poll(() => tagRows(page)).toEqual(['keep']);
    expect(await tagsOf('team/scratch')).toEqual(['keep']);
    expect(errors).toEqual([]);
    await context.close();
  });

  test('an immutable tag is offered for no delete, and the registry refuses to delete it', async () => {
    await pushImageWithSkopeo(registry.host, 'release/app', ['v1', 'edge']);
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/r/release/app`);
    await page.locator('[data-testid="tag-row"]').first().waitFor();
    expect(await page.locator('[data-testid="tag-row"][data-tag="v1"] [data-testid="tag-select"]').count()).toBe(0);
    expect(await page.locator('[data-testid="tag-row"][data-tag="v1"] [data-testid="tag-immutable"]').count()).toBe(1);
    expect(await page.locator('[data-testid="tag-row"][data-tag="edge"] [data-testid="tag-select"]').count()).toBe(1);
    // Select all takes the tags that may go, and only those.
    await page.locator('[data-testid="select-all"]').check();
    await page.locator('[data-testid="delete-selected"]').click();
    const list = page.locator('[data-testid="delete-list"]');
    await list.waitFor();
    expect(await list.textContent()).toContain('edge');
    expect(await list.textContent()).not.toContain('v1');
    await page.locator('[data-testid="confirm-delete"]').click();
    await expect.poll(() => tagRows(page)).toEqual(['v1']);
    const refused = await fetch(`${registry.url}/v2/release/app/manifests/v1`, { method: 'DELETE' });
    expect(refused.status).toBe(403);
    expect(await tagsOf('release/app')).toEqual(['v1']);
    expect(errors).toEqual([]);
    await context.close();
  });

  test('retag from the page points a new tag at the image', async () => {
    const { page, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/r/team/worker`);
    await page.locator('[data-testid="tag-row"]').first().waitFor();
    await page.locator('[data-testid="retag-source"]').fill('1.0');
    await page.locator('[data-testid="retag-destination"]').fill('team/worker:stable');
    await page.locator('[data-testid="retag-submit"]').click();
    await expect.poll(() => tagRows(page)).toEqual(['1.0', 'stable']);
    expect((await descriptorOf(registry.url, 'team/worker', 'stable')).digest).toBe((await descriptorOf(registry.url, 'team/worker', '1.0')).digest);
    await context.close();
  });

  test('retag onto a tag of another image asks first, and moves it only when told', async () => {
    const other = await pushImageWithSkopeo(registry.host, 'team/worker', ['next'], { app: 'worker-next' });
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/r/team/worker`);
    await page.locator('[data-testid="tag-row"]').first().waitFor();
    const retagTo = async (destination: string) => {
      await page.locator('[data-testid="retag-source"]').fill('1.0');
      await page.locator('[data-testid="retag-destination"]').fill(destination);
      await page.locator('[data-testid="retag-submit"]').click();
      await page.locator('[data-testid="retag-conflict"]').waitFor();
    };
    await retagTo('team/worker:next');
    expect(await page.locator('[data-testid="retag-conflict"]').textContent()).toContain('team/worker:next points at another image');
    // Cancel leaves the tag where it was.
    await page.locator('[data-testid="retag-cancel"]').click();
    expect(await page.locator('[data-testid="retag-conflict"]').count()).toBe(0);
    expect((await descriptorOf(registry.url, 'team/worker', 'next')).digest).toBe(other);
    await retagTo('team/worker:next');
    await page.locator('[data-testid="retag-force"]').click();
    const moved = (await descriptorOf(registry.url, 'team/worker', '1.0')).digest;
    await expect.poll(async () => (await descriptorOf(registry.url, 'team/worker', 'next')).digest).toBe(moved);
    expect(await page.locator('[data-testid="retag-conflict"]').count()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('image', () => {
  test('a deep link shows layers with the history that made them, the config and the referrers', async () => {
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/r/team/web/t/v1`);
    await page.locator('[data-testid="layer-row"]').first().waitFor();
    const layers = await page.locator('[data-testid="layer-row"]').allTextContents();
    expect(layers).toHaveLength(2);
    expect(layers[0]).toContain('ADD file:os-release');
    expect(layers[1]).toContain('COPY web /app/');
    const config = await page.locator('[data-testid="image-config"]').textContent();
    for (const text of ['/app/web', '--serve', 'APP=web', '8080/tcp', '/app', 'org.opencontainers.image.version', 'Stowage Tests'])
      expect(config, text).toContain(text);
    const referrers = await page.locator('[data-testid="image-referrers"]').textContent();
    expect(referrers).toContain(SIGNATURE_TYPE);
    await screenshot(page, 'image');
    expect(errors).toEqual([]);
    await context.close();
  });

  test('the raw manifest is shown highlighted and can be downloaded', async () => {
    const { page, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/r/team/web/t/v1`);
    await page.locator('[data-testid="raw-manifest"]').click();
    const json = page.locator('[data-testid="raw-json"]');
    await json.waitFor();
    expect(await json.textContent()).toContain('"schemaVersion"');
    // Highlighted: keys and strings are elements of their own.
    expect(await json.locator('span').count()).toBeGreaterThan(5);
    const download = page.waitForEvent('download');
    await page.locator('[data-testid="raw-download"]').click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/\.json$/);
    await context.close();
  });

  test('an index offers its platforms, and switching shows that platform', async () => {
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/r/team/api/t/v2`);
    const options = page.locator('[data-testid="platform-option"]');
    await options.first().waitFor();
    const labels = await options.allTextContents();
    expect(labels.join(' ')).toContain('linux/amd64');
    expect(labels.join(' ')).toContain('linux/arm64');
    await options.filter({ hasText: 'linux/arm64' }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('platform')).toBe(indexChildren[1]);
    await page.locator('[data-testid="layer-row"]').first().waitFor();
    await expect.poll(() => page.locator('[data-testid="image-config"]').textContent()).toContain('arm64');
    await screenshot(page, 'image-index');
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('navigation', () => {
  test('links, the back and forward buttons and a reload keep page and content in step', async () => {
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/`);
    await page.locator('[data-testid="repository-row"][data-name="team/web"] a').first().click();
    await page.locator('[data-testid="tag-row"]').first().waitFor();
    await page.locator('[data-testid="tag-row"][data-tag="v1"] a').first().click();
    await page.locator('[data-testid="layer-row"]').first().waitFor();
    expect(new URL(page.url()).pathname).toBe('/ui/r/team/web/t/v1');
    await page.goBack();
    await page.waitForURL(`${registry.url}/ui/r/team/web`);
    await expect.poll(() => tagRows(page)).toContain('v1');
    await page.goBack();
    await page.waitForURL(`${registry.url}/ui/`);
    await expect.poll(async () => (await rowNames(page)).length).toBeGreaterThan(3);
    await page.goForward();
    await page.waitForURL(`${registry.url}/ui/r/team/web`);
    await expect.poll(() => tagRows(page)).toContain('v1');
    await page.reload();
    await expect.poll(() => tagRows(page)).toContain('v1');
    expect(errors).toEqual([]);
    await context.close();
  });

  test('GET / sends a browser to the UI and keeps answering JSON to API clients', async () => {
    const { page, context } = await openPage(browser);
    await page.goto(`${registry.url}/`);
    expect(new URL(page.url()).pathname).toBe('/ui/');
    const json = await fetch(`${registry.url}/`, { headers: { Accept: 'application/json' } });
    expect(json.headers.get('content-type')).toMatch(/application\/json/);
    const icon = await fetch(`${registry.url}/favicon.ico`);
    expect(icon.status).toBe(200);
    await context.close();
  });
});

describe('proxies and usage', () => {
  test('the usage page shows storage per repository and what GC would free', async () => {
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/usage`);
    await page.locator('[data-testid="usage-totals"]').waitFor();
    await expect.poll(() => page.locator('main').textContent()).toContain('big/many');
    await screenshot(page, 'usage');
    expect(errors).toEqual([]);
    await context.close();
  });

  test('the proxies page says when no upstream is configured', async () => {
    const { page, errors, context } = await openPage(browser);
    await page.goto(`${registry.url}/ui/proxies`);
    await expect.poll(() => page.locator('main').textContent()).toMatch(/no upstream|No upstream|not configured/i);
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('themes and sizes', () => {
  test('dark mode renders dark, and the toggle switches to light', async () => {
    const { page, errors, context } = await openPage(browser, { colorScheme: 'dark' });
    await page.goto(`${registry.url}/ui/r/team/web`);
    await page.locator('[data-testid="tag-row"]').first().waitFor();
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const luminance = (rgb: string) => {
      const [r, g, b] = rgb.match(/\d+/g)!.map(Number);
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    expect(luminance(await background())).toBeLessThan(60);
    await screenshot(page, 'repository-dark');
    await page.goto(`${registry.url}/ui/`);
    await page.locator('[data-testid="repository-row"]').first().waitFor();
    await screenshot(page, 'home-dark');
    await page.locator('[data-testid="theme-toggle"]').click();
    await expect.poll(async () => luminance(await background())).toBeGreaterThan(180);
    expect(errors).toEqual([]);
    await context.close();
  });

  test('on a phone the pages fit the screen', async () => {
    const { page, errors, context } = await openPage(browser, { viewport: { width: 390, height: 844 } });
    for (const [path, ready, name] of [
      ['/ui/', 'repository-row', 'home-phone'],
      ['/ui/r/team/web', 'tag-row', 'repository-phone'],
      ['/ui/r/team/web/t/v1', 'layer-row', 'image-phone'],
    ]) {
      await page.goto(`${registry.url}${path}`);
      await page.locator(`[data-testid="${ready}"]`).first().waitFor();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width, path).toBeLessThanOrEqual(390);
      await screenshot(page, name);
    }
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('accessibility', () => {
  const pages: Array<[string, string]> = [
    ['/ui/', '[data-testid="repository-row"]'],
    ['/ui/r/team/web', '[data-testid="tag-row"]'],
    ['/ui/r/team/web/t/v1', '[data-testid="layer-row"]'],
    ['/ui/r/team/api/t/v2', '[data-testid="platform-option"]'],
    ['/ui/usage', '[data-testid="usage-totals"]'],
    ['/ui/proxies', 'main h1'],
    ['/ui/sign-in', 'main h1'],
  ];
  for (const scheme of ['light', 'dark'] as const) {
    test.each(pages)(`axe-core finds no serious or critical violation on %s (${scheme})`, async (path, ready) => {
      const { page, context } = await openPage(browser, { bypassCSP: true, colorScheme: scheme });
      await page.goto(`${registry.url}${path}`);
      await page.locator(ready).first().waitFor();
      expect(await seriousViolations(page)).toEqual([]);
      await context.close();
    });
  }
});
