// Pulls through the pull-through proxy count in the pull statistics as local pulls do: a GET of
// a proxied manifest, cold (fetched from upstream) or warm (from the cache), counts for its tag
// and its manifest; a HEAD does not.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { pushImage } from '../helpers/images.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

describe('pull statistics through the pull-through proxy', () => {
  let upstream: TestRegistry;
  let proxy: TestRegistry;
  beforeEach(async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { stowage: { proxies: [{ prefix: 'up', remoteurl: upstream.url, ttl: '1h' }] } },
      cacheTtl: '1ms',
    });
  });
  afterEach(async () => {
    await proxy?.cleanup();
    await upstream?.cleanup();
  });

  it('counts GETs of proxied manifests, cold and warm, by tag and by digest, and not HEADs', async () => {
    const image = await pushImage(upstream, 'team/app', 'v1', { seed: 31 });
    expect((await proxy.request.get('/v2/up/team/app/manifests/v1')).status).toBe(200);
    expect((await proxy.request.get('/v2/up/team/app/manifests/v1')).status).toBe(200);
    expect((await proxy.request.head('/v2/up/team/app/manifests/v1')).status).toBe(200);
    expect((await proxy.request.get(`/v2/up/team/app/manifests/${image.manifest.digest}`)).status).toBe(200);
    await proxy.storage.pulls!.flush();

    const tags = await proxy.request.get('/api/v1/tags/up/team/app');
    expect(tags.status, tags.text).toBe(200);
    expect(tags.body.tags).toMatchObject([{ tag: 'v1', digest: image.manifest.digest, pulls: 2 }]);
    const manifest = await proxy.request.get(`/api/v1/images/up/team/app/${image.manifest.digest}`);
    expect(manifest.body).toMatchObject({ pulls: 3 });
    expect(Date.parse(manifest.body.lastPulled)).toBeGreaterThan(0);
  });
});
