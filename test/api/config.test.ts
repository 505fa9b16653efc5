// server/config.ts: a registry:2 config.yml loads unchanged; unknown keys and wrong types stop
// start-up with a ConfigError naming the key; REGISTRY_* variables override the file.
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, configFrom, loadConfig, parseDuration, parseListenAddress } from '../../server/config.js';

/** The config.yml shipped in the registry:2 image, plus keys operators commonly add. */
const REGISTRY2_CONFIG = `version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`;

describe('loading config.yml', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-config-'));
  });

  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  async function file(text: string): Promise<string> {
    const target = path.join(dir, 'config.yml');
    await fsp.writeFile(target, text);
    return target;
  }

  /** The ConfigError loadConfig throws, so its message can be checked. */
  function loadError(configFile: string, env: NodeJS.ProcessEnv = {}): ConfigError {
    try {
      loadConfig(configFile, env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return err as ConfigError;
    }
    throw new Error('expected loadConfig to throw a ConfigError');
  }

  it('loads the registry:2 image config unchanged', async () => {
    const { config, warnings } = loadConfig(await file(REGISTRY2_CONFIG), {});
    expect(warnings).toEqual([]);
    expect(config.version).toBe(0.1);
    expect(config.log.fields).toEqual({ service: 'registry' });
    expect(config.storage.cache?.blobdescriptor).toBe('inmemory');
    expect(config.storage.filesystem?.rootdirectory).toBe('/var/lib/registry');
    expect(config.http.addr).toBe(':5000');
    expect(config.http.headers).toEqual({ 'X-Content-Type-Options': ['nosniff'] });
    expect(config.health).toEqual({ storagedriver: { enabled: true, interval: '10s', threshold: 3 } });
  });

  it('fills in defaults for what the file leaves out', async () => {
    const { config } = loadConfig(await file('storage: { filesystem: { rootdirectory: /data } }\n'), {});
    expect(config.http.addr).toBe(':5000');
    expect(config.log.level).toBe('info');
    expect(config.storage.delete.enabled).toBe(true);
  });

  it('loads an empty file as all defaults', async () => {
    const { config } = loadConfig(await file(''), {});
    expect(config.http.addr).toBe(':5000');
  });

  it.each([
    ['a top-level key', 'bogus: 1\n', 'bogus'],
    ['a nested key', 'storage:\n  filesystem:\n    rootdirectory: /d\n    rootdir: /e\n', 'storage.filesystem.rootdir'],
    ['a key under http', 'http:\n  adr: ":5000"\n', 'http.adr'],
    ['a key under log', 'log:\n  lvl: debug\n', 'log.lvl'],
  ])('refuses an unknown key (%s) with a ConfigError naming it', async (_what, text, key) => {
    expect(loadError(await file(text)).message).toContain(key);
  });

  it.each([
    ['http.addr as a number', 'http:\n  addr: 5000\n', 'http.addr'],
    ['storage.delete.enabled as a string', 'storage:\n  delete:\n    enabled: "yes please"\n', 'storage.delete.enabled'],
    ['log.level outside its values', 'log:\n  level: loud\n', 'log.level'],
    ['http.headers as a map of strings', 'http:\n  headers:\n    X-Frame-Options: DENY\n', 'http.headers.X-Frame-Options'],
    ['a duration that is no duration', 'http:\n  draintimeout: soon\n', 'http.draintimeout'],
  ])('refuses a wrong type (%s) with a ConfigError naming the key', async (_what, text, key) => {
    expect(loadError(await file(text)).message).toContain(key);
  });

  it('names every problem at once', async () => {
    const message = loadError(await file('bogus: 1\nhttp:\n  addr: 5000\n')).message;
    expect(message).toContain('bogus');
    expect(message).toContain('http.addr');
  });

  it('refuses a file that is not a YAML mapping', async () => {
    expect(loadError(await file('- a\n- b\n')).message).toMatch(/mapping/);
    expect(loadError(await file('key: [unclosed\n')).message).toMatch(/YAML/);
  });

  it('refuses a file that cannot be read, naming it', () => {
    const missing = path.join(dir, 'missing.yml');
    expect(loadError(missing).message).toContain(missing);
  });

  it('applies REGISTRY_HTTP_ADDR over the file', async () => {
    const { config } = loadConfig(await file(REGISTRY2_CONFIG), { REGISTRY_HTTP_ADDR: '127.0.0.1:6000' });
    expect(config.http.addr).toBe('127.0.0.1:6000');
  });

  it('applies REGISTRY_STORAGE_DELETE_ENABLED as a boolean', async () => {
    const off = loadConfig(await file(REGISTRY2_CONFIG), { REGISTRY_STORAGE_DELETE_ENABLED: 'false' });
    expect(off.config.storage.delete.enabled).toBe(false);
    const on = loadConfig(await file('storage:\n  delete:\n    enabled: false\n'), { REGISTRY_STORAGE_DELETE_ENABLED: 'true' });
    expect(on.config.storage.delete.enabled).toBe(true);
  });

  it('applies REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY and keeps the rest of the file', async () => {
    const { config } = loadConfig(await file(REGISTRY2_CONFIG), { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/srv/registry' });
    expect(config.storage.filesystem?.rootdirectory).toBe('/srv/registry');
    expect(config.storage.cache?.blobdescriptor).toBe('inmemory');
  });

  it('takes the file from REGISTRY_CONFIGURATION_PATH when none is given', async () => {
    const target = await file('http:\n  addr: 127.0.0.1:7000\n');
    const { config } = loadConfig(undefined, { REGISTRY_CONFIGURATION_PATH: target });
    expect(config.http.addr).toBe('127.0.0.1:7000');
  });

  it('refuses an override of the wrong type, naming the key', async () => {
    expect(loadError(await file(REGISTRY2_CONFIG), { REGISTRY_STORAGE_DELETE_ENABLED: 'maybe' }).message).toContain('storage.delete.enabled');
  });

  it('warns about a REGISTRY_ variable that names no key, and ignores it', async () => {
    const { warnings } = loadConfig(await file(REGISTRY2_CONFIG), { REGISTRY_NO_SUCH_KEY: 'x' });
    expect(warnings.join('\n')).toContain('REGISTRY_NO_SUCH_KEY');
  });

  it('ignores environment variables without the REGISTRY_ prefix', async () => {
    const { config, warnings } = loadConfig(await file(REGISTRY2_CONFIG), { HTTP_ADDR: '0.0.0.0:1', PATH: '/usr/bin' });
    expect(config.http.addr).toBe(':5000');
    expect(warnings).toEqual([]);
  });
});

describe('configFrom', () => {
  it('builds a config from an object, with defaults', () => {
    const config = configFrom({ storage: { delete: { enabled: false } } });
    expect(config.storage.delete.enabled).toBe(false);
    expect(config.http.addr).toBe(':5000');
  });

  it('throws a ConfigError naming an unknown key', () => {
    expect(() => configFrom({ storage: { deleet: {} } })).toThrow(ConfigError);
    expect(() => configFrom({ storage: { deleet: {} } })).toThrow(/storage\.deleet/);
  });
});

describe('config values', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    [1_000_000_000, 1000],
  ])('reads the duration %j as %d ms', (value, ms) => {
    expect(parseDuration(value)).toBe(ms);
  });

  it.each(['', 'soon', '5 minutes', '10x'])('refuses the duration %j', (value) => {
    expect(() => parseDuration(value)).toThrow();
  });

  it('holds durations in milliseconds under the key with Ms, from the file, the environment and the defaults', () => {
    const config = configFrom({
      http: { draintimeout: '1h30m' },
      stowage: { cache: { ttl: 1_000_000_000 }, proxies: [{ prefix: 'up', remoteurl: 'http://127.0.0.1:1', ttl: '2m' }] },
    });
    expect(config.http.draintimeoutMs).toBe(5_400_000);
    expect(config.http).not.toHaveProperty('draintimeout');
    expect(config.stowage.cache.ttlMs).toBe(1000);
    expect(config.stowage.gc.graceMs).toBe(3_600_000);
    expect(config.stowage.proxies[0]).toMatchObject({ ttlMs: 120_000, notfoundttlMs: 30_000 });
    const { config: fromEnv } = loadConfig(undefined, { REGISTRY_STOWAGE_GC_INTERVAL: '24h', REGISTRY_STOWAGE_HTTP_IDLETIMEOUT: '5000000000' });
    expect(fromEnv.stowage.gc.intervalMs).toBe(86_400_000);
    expect(fromEnv.stowage.http.idletimeoutMs).toBe(5000);
  });

  it.each([
    [':5000', { host: undefined, port: 5000 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['[::1]:5000', { host: '::1', port: 5000 }],
    ['localhost:8080', { host: 'localhost', port: 8080 }],
  ])('reads the listen address %s', (addr, expected) => {
    expect(parseListenAddress(addr)).toEqual(expected);
  });

  it.each(['5000', 'host:', 'host:99999'])('refuses the listen address %s with a ConfigError', (addr) => {
    expect(() => parseListenAddress(addr)).toThrow(ConfigError);
  });
});
