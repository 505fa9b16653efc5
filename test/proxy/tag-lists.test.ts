// Tags lists of proxied repositories: upstream's list joined with the cached tags, asked upstream
// at most once per TTL, every upstream page followed, the cached tags alone when upstream is
// down, and the spec's errors for a repository neither side has.
import { afterEach, describe, expect, it } from 'vitest';
import { nextPageQuery } from '../../proxy/upstream-client.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { TokenIssuer } from '../helpers/fake-token-issuer.js';
import { listen, type Listening } from '../helpers/http-server.js';
import { pushImage } from '../helpers/images.js';
import { pull } from '../helpers/registry-client.js';
import { TestClock } from '../helpers/test-clock.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

let upstream: TestRegistry | undefined;
let proxy: TestRegistry | undefined;
let issuer: TokenIssuer | undefined;
let fake: Listening | undefined;

afterEach(async () => {
  await proxy?.cleanup();
  await upstream?.cleanup();
  await issuer?.close();
  await fake?.close();
  proxy = upstream = issuer = fake = undefined;
});

async function tagsOf(url: string): Promise<{ status: number; tags?: string[]; code?: string; link: string | null }> {
  const res = await pull(url);
  const doc = JSON.parse(res.body.toString()) as { tags?: string[]; errors?: Array<{ code: string }> };
  return { status: res.status, tags: doc.tags, code: doc.errors?.[0]?.code, link: res.headers.get('link') };
}

describe('tags list of a proxied repository', () => {
  it('lists upstream tags never pulled, and asks upstream once per TTL', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    await pushImage(upstream.storage, 'team/app', 'v1', { seed: 1 });
    await pushImage(upstream.storage, 'team/app', 'v2', { seed: 2 });
    const clock = new TestClock();
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url, ttl: '5m' } }, cacheTtl: '1ms', clock });
    const url = `${proxy.url}/v2/team/app/tags/list`;

    expect(await tagsOf(url)).toMatchObject({ status: 200, tags: ['v1', 'v2'] });
    expect((await pull(`${proxy.url}/v2/team/app/manifests/v1`)).status).toBe(200);
    expect((await tagsOf(url)).tags).toEqual(['v1', 'v2']);
    expect(upstream.count('GET', /\/tags\/list$/)).toBe(1);

    await pushImage(upstream.storage, 'team/app', 'v3', { seed: 3 });
    clock.advance(4 * 60 * 1000);
    expect((await tagsOf(url)).tags).toEqual(['v1', 'v2']);
    clock.advance(2 * 60 * 1000);
    expect((await tagsOf(url)).tags).toEqual(['v1', 'v2', 'v3']);
    expect(upstream.count('GET', /\/tags\/list$/)).toBe(2);
  });

  it('joins a cached tag upstream no longer has, and pages the joined list with n and last', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    await pushImage(upstream.storage, 'team/app', 'old', { seed: 1 });
    await pushImage(upstream.storage, 'team/app', 'a', { seed: 2 });
    await pushImage(upstream.storage, 'team/app', 'z', { seed: 3 });
    const clock = new TestClock();
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url, ttl: '1m' } }, cacheTtl: '1ms', clock });
    expect((await pull(`${proxy.url}/v2/team/app/manifests/old`)).status).toBe(200);
    await upstream.storage.manifests.delete('team/app', 'old');
    clock.advance(2 * 60 * 1000);

    const first = await tagsOf(`${proxy.url}/v2/team/app/tags/list?n=2`);
    expect(first.tags).toEqual(['a', 'old']);
    expect(first.link).toBe('</v2/team/app/tags/list?n=2&last=old>; rel="next"');
    const rest = await tagsOf(`${proxy.url}/v2/team/app/tags/list?n=2&last=old`);
    expect(rest.tags).toEqual(['z']);
    expect(rest.link).toBeNull();
  });

  it('answers the cached tags while upstream is down, and UNAVAILABLE for a name never pulled', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    await pushImage(upstream.storage, 'team/app', 'v1', { seed: 1 });
    await pushImage(upstream.storage, 'team/app', 'v2', { seed: 2 });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });
    expect((await pull(`${proxy.url}/v2/team/app/manifests/v1`)).status).toBe(200);

    upstream.failWith = 503;
    expect(await tagsOf(`${proxy.url}/v2/team/app/tags/list`)).toMatchObject({ status: 200, tags: ['v1'] });
    const never = await tagsOf(`${proxy.url}/v2/team/other/tags/list`);
    expect(never).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
  });

  it('refuses a bad n with PAGINATION_NUMBER_INVALID before asking upstream', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    await pushImage(upstream.storage, 'team/app', 'v1');
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });
    expect(await tagsOf(`${proxy.url}/v2/team/app/tags/list?n=-1`)).toMatchObject({ status: 400, code: 'PAGINATION_NUMBER_INVALID' });
    expect(upstream.requests).toEqual([]);
  });

  it('answers NAME_UNKNOWN when upstream does not have the repository and nothing is cached', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });
    expect(await tagsOf(`${proxy.url}/v2/team/missing/tags/list`)).toMatchObject({ status: 404, code: 'NAME_UNKNOWN' });
  });

  it('follows every page upstream sends, by relative and absolute Link, and drops invalid tags', async () => {
    const pages: Record<string, { tags: string[]; next?: (base: string) => string }> = {
      '': { tags: ['1.0', '1.1'], next: () => '/v2/library/busybox/tags/list?n=2&last=1.1' },
      '1.1': { tags: ['2.0', 'not a tag'], next: (base) => `${base}/v2/library/busybox/tags/list?last=2.0&n=2` },
      '2.0': { tags: ['latest'] },
    };
    const asked: string[] = [];
    fake = await listen((req, res) => {
      const url = new URL(req.url ?? '/', 'http://fake');
      asked.push(url.pathname + url.search);
      if (url.pathname !== '/v2/library/busybox/tags/list') return void res.writeHead(404).end();
      const page = pages[url.searchParams.get('last') ?? ''];
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (page.next) headers.Link = `<${page.next(fake!.url)}>; rel="next"`;
      res.writeHead(200, headers).end(JSON.stringify({ name: 'library/busybox', tags: page.tags }));
    });
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { stowage: { proxies: [{ prefix: 'hub', remoteurl: fake.url, dockerhub: true }] } },
      cacheTtl: '1ms',
    });

    expect(await tagsOf(`${proxy.url}/v2/hub/busybox/tags/list`)).toMatchObject({ status: 200, tags: ['1.0', '1.1', '2.0', 'latest'] });
    expect(asked).toEqual([
      '/v2/library/busybox/tags/list?n=1000',
      '/v2/library/busybox/tags/list?n=2&last=1.1',
      '/v2/library/busybox/tags/list?last=2.0&n=2',
    ]);
  });

  it('treats a tags list that is not one as upstream failing', async () => {
    fake = await listen((_req, res) => void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"tags": [1, 2]}'));
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: fake.url } }, cacheTtl: '1ms' });
    expect(await tagsOf(`${proxy.url}/v2/team/app/tags/list`)).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
  });

  it('goes through the upstream token flow', async () => {
    issuer = new TokenIssuer();
    await issuer.start();
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms', requireToken: issuer });
    await pushImage(upstream.storage, 'library/busybox', 'latest');
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });
    expect((await tagsOf(`${proxy.url}/v2/library/busybox/tags/list`)).tags).toEqual(['latest']);
    expect(issuer.issued.map((i) => i.scope)).toEqual(['repository:library/busybox:pull']);
  });

  it('reads the next page from a Link header', () => {
    expect(nextPageQuery('</v2/a/tags/list?n=2&last=b>; rel="next"')).toBe('?n=2&last=b');
    expect(nextPageQuery('<https://r.example/v2/a/tags/list?last=b>;rel=next')).toBe('?last=b');
    expect(nextPageQuery('</v2/a/tags/list?n=2>; rel="prev"')).toBeUndefined();
    expect(nextPageQuery(undefined)).toBeUndefined();
    expect(nextPageQuery('<http://[bad>; rel="next"')).toBeUndefined();
  });
});
