// stowage.retention in the config: the issue's example loads with durations in milliseconds,
// a config without it changes nothing, and bad regular expressions, globs or keys stop start-up
// with a ConfigError naming the key. Also the settings the runner gets from it (the pull-through
// cache's repositories skipped) and --now's times.
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError, configFrom } from '../../server/config.js';
import { parseEvaluationTime, retentionSettings } from '../../server/retention.js';

const ISSUE_EXAMPLE = `
stowage:
  retention:
    interval: 24h
    policies:
      - repositories: ["team/**"]
        deleteuntagged: true
        keeptags:
          - { patterns: ["^v[0-9]+"], mostrecentlypushedcount: 5 }
          - { patterns: [".*"], pulledwithin: 720h }
          - { patterns: ["^latest$"] }
`;

describe('stowage.retention', () => {
  it("loads the issue's example, durations in milliseconds", () => {
    const config = configFrom(parseYaml(ISSUE_EXAMPLE));
    expect(config.stowage.retention).toEqual({
      intervalMs: 24 * 3_600_000,
      policies: [
        {
          repositories: ['team/**'],
          deleteuntagged: true,
          keeptags: [
            { patterns: ['^v[0-9]+'], mostrecentlypushedcount: 5 },
            { patterns: ['.*'], pulledwithinMs: 720 * 3_600_000 },
            { patterns: ['^latest$'] },
          ],
        },
      ],
    });
    const settings = retentionSettings(config)!;
    expect(settings.policies.policyFor('team/app')?.number).toBe(1);
    expect(settings.graceMs).toBe(3_600_000);
  });

  it('is absent from a config without it, and then nothing runs', () => {
    const config = configFrom({});
    expect(config.stowage.retention).toBeUndefined();
    expect(retentionSettings(config)).toBeUndefined();
  });

  it('defaults patterns to every tag and keeptags to none, and takes no interval', () => {
    const config = configFrom({
      stowage: { retention: { policies: [{ repositories: ['a'], keeptags: [{ mostrecentlypushedcount: 1 }] }, { repositories: ['b'] }] } },
    });
    expect(config.stowage.retention).toEqual({
      policies: [
        { repositories: ['a'], deleteuntagged: false, keeptags: [{ patterns: ['.*'], mostrecentlypushedcount: 1 }] },
        { repositories: ['b'], deleteuntagged: false, keeptags: [] },
      ],
    });
  });

  it('refuses a pattern that is not a regular expression, naming the key', () => {
    const bad = {
      stowage: { retention: { policies: [{ repositories: ['team/**'], keeptags: [{ patterns: ['^v'] }, { patterns: ['ok', '(unclosed'] }] }] } },
    };
    expect(() => configFrom(bad)).toThrow(ConfigError);
    expect(() => configFrom(bad)).toThrow(/stowage\.retention\.policies\.0\.keeptags\.1\.patterns\.1: not a valid regular expression: .*unclosed/);
  });

  it('refuses bad globs, counts, durations and unknown keys, naming each', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ repositories: ['Team/**'] }, /policies\.0\.repositories\.0: a glob over repository names/],
      [{ repositories: [] }, /policies\.0\.repositories/],
      [{ repositories: ['a'], keeptags: [{ mostrecentlypushedcount: -1 }] }, /keeptags\.0\.mostrecentlypushedcount/],
      [{ repositories: ['a'], keeptags: [{ pulledwithin: 'a month' }] }, /keeptags\.0\.pulledwithin: invalid duration/],
      [{ repositories: ['a'], keepTags: [] }, /unknown key stowage\.retention\.policies\.0\.keepTags/],
      [{ repositories: ['a'], keeptags: [{ patterns: [] }] }, /keeptags\.0\.patterns/],
    ];
    for (const [policy, message] of cases) expect(() => configFrom({ stowage: { retention: { policies: [policy] } } })).toThrow(message);
    expect(() => configFrom({ stowage: { retention: { interval: 'daily', policies: [] } } })).toThrow(/stowage\.retention\.interval/);
  });

  it("never touches the pull-through cache's repositories", () => {
    const policies = [{ repositories: ['**'] }];
    const config = configFrom({
      stowage: { retention: { policies }, proxies: [{ prefix: 'dockerhub', remoteurl: 'https://registry-1.docker.io' }] },
    });
    const { skip } = retentionSettings(config)!;
    expect(skip!('dockerhub/library/busybox')).toBe(true);
    expect(skip!('dockerhub')).toBe(true);
    expect(skip!('dockerhubby/app')).toBe(false);
    expect(skip!('team/app')).toBe(false);
    // A registry that mirrors one upstream as a whole is all cache.
    const mirror = configFrom({ proxy: { remoteurl: 'https://registry-1.docker.io' }, stowage: { retention: { policies } } });
    expect(retentionSettings(mirror)!.skip!('team/app')).toBe(true);
  });
});

describe('evaluation times (--now, ?now=)', () => {
  const NOW = Date.UTC(2026, 0, 1);
  it('reads ISO 8601, milliseconds since the epoch and signed durations from now', () => {
    expect(parseEvaluationTime('2026-02-03T04:05:06Z', NOW)).toBe(Date.UTC(2026, 1, 3, 4, 5, 6));
    expect(parseEvaluationTime('1700000000000', NOW)).toBe(1_700_000_000_000);
    expect(parseEvaluationTime('+30d', NOW)).toBe(NOW + 30 * 86_400_000);
    expect(parseEvaluationTime('-2h', NOW)).toBe(NOW - 2 * 3_600_000);
  });
  it('refuses anything else with 400 UNSUPPORTED', () => {
    for (const bad of ['soon', '+forever', '', '2026-13-45']) {
      expect(() => parseEvaluationTime(bad, NOW)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED', status: 400 }));
    }
  });
});
