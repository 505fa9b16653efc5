// The pull-through cache in Prometheus metrics: misses, hits, joins and upstream bytes are
// counted, so an operator can see what the cache saves.
import { afterEach, describe, expect, it } from 'vitest';
import { ACCEPT_ALL, randomBlob } from '../helpers/content.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { pushImage } from '../helpers/images.js';
import { pull } from '../helpers/registry-client.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

let upstream: TestRegistry | undefined;
let proxy: TestRegistry | undefined;

afterEach(async () => {
  await proxy?.cleanup();
  await upstream?.cleanup();
  proxy = upstream = undefined;
});

function counter(metrics: string, name: string, labels: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('proxy metrics', () => {
  it('counts a cold pull as misses with upstream bytes, and a warm pull as hits', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const layer = randomBlob(200_000, 21);
    const image = await pushImage(upstream.storage, 'team/app', 'v1', { layers: [layer] });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });

    const manifest = await pull(`${proxy.url}/v2/team/app/manifests/v1`, { headers: { Accept: ACCEPT_ALL } });
    expect(manifest.status).toBe(200);
    expect((await pull(`${proxy.url}/v2/team/app/blobs/${layer.digest}`)).status).toBe(200);
    await proxy.proxy.fills.idle();
    expect((await pull(`${proxy.url}/v2/team/app/manifests/v1`, { headers: { Accept: ACCEPT_ALL } })).status).toBe(200);
    expect((await pull(`${proxy.url}/v2/team/app/blobs/${layer.digest}`)).status).toBe(200);

    const metrics = (await pull(`${proxy.url}/metrics`)).body.toString();
    expect(counter(metrics, 'stowage_proxy_requests_total', 'kind="manifest",result="miss"')).toBe(1);
    expect(counter(metrics, 'stowage_proxy_requests_total', 'kind="manifest",result="hit"')).toBe(1);
    expect(counter(metrics, 'stowage_proxy_requests_total', 'kind="blob",result="miss"')).toBe(1);
    expect(counter(metrics, 'stowage_proxy_requests_total', 'kind="blob",result="hit"')).toBe(1);
    const host = new URL(upstream.url).host;
    expect(counter(metrics, 'stowage_proxy_upstream_bytes_total', `upstream="${host}"`)).toBe(layer.size + image.manifest.size);
  });
});
