// The browser app's pure parts, run in Node: its URL scheme (ui/src/routes.ts), how sizes, times
// and digests read (format.ts), the challenge parser its fetch wrapper follows (challenge.ts),
// and the JSON tokenizer its highlighter draws (json-tokens.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseChallenge } from '../../ui/src/challenge.js';
import { humanSize, isRunnable, platformName, relativeTime, shortDigest } from '../../ui/src/format.js';
import { prettyJson, tokenizeJson } from '../../ui/src/json-tokens.js';
import { digestUrl, homeUrl, imageUrl, parseRoute, repositoryUrl, safeNext, signInUrl, tagUrl } from '../../ui/src/routes.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('the UI URL scheme', () => {
  it('reads every kind of page from its path', () => {
    expect(parseRoute('/ui')).toEqual({ page: 'home' });
    expect(parseRoute('/ui/')).toEqual({ page: 'home' });
    expect(parseRoute('/ui/r/team/web')).toEqual({ page: 'repository', name: 'team/web' });
    expect(parseRoute('/ui/r/a/b/c/d-e')).toEqual({ page: 'repository', name: 'a/b/c/d-e' });
    expect(parseRoute('/ui/r/team/web/t/v1.2')).toEqual({ page: 'image', name: 'team/web', reference: 'v1.2', by: 'tag' });
    expect(parseRoute(`/ui/r/nginx/d/${DIGEST}`)).toEqual({ page: 'image', name: 'nginx', reference: DIGEST, by: 'digest' });
    expect(parseRoute('/ui/proxies')).toEqual({ page: 'proxies' });
    expect(parseRoute('/ui/usage/')).toEqual({ page: 'usage' });
    expect(parseRoute('/ui/retention')).toEqual({ page: 'retention' });
    expect(parseRoute('/ui/sign-in')).toEqual({ page: 'sign-in' });
    for (const bad of ['/ui/r/', '/ui/r/UPPER', '/ui/r/team/web/d/not-a-digest:', '/ui/whatever', '/elsewhere']) {
      expect(parseRoute(bad).page, bad).toBe('not-found');
    }
  });

  it('writes links the router reads back', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/), { minLength: 1, maxLength: 4 }),
        fc.stringMatching(/^\w[\w.-]{0,20}$/),
        (segments, tag) => {
          const name = segments.join('/');
          // A name ending in "/t/<x>" or "/d/<x>" reads as an image link: the documented limit.
          fc.pre(!segments.slice(0, -1).some((s) => s === 't' || s === 'd'));
          expect(parseRoute(repositoryUrl(name))).toEqual({ page: 'repository', name });
          expect(parseRoute(tagUrl(name, tag))).toEqual({ page: 'image', name, reference: tag, by: 'tag' });
          expect(parseRoute(digestUrl(name, DIGEST).split('?')[0])).toEqual({ page: 'image', name, reference: DIGEST, by: 'digest' });
        },
      ),
    );
  });

  it('keeps queries in the URL and leaves empty ones out', () => {
    expect(homeUrl()).toBe('/ui/');
    expect(homeUrl({ q: 'web', ns: '', sort: 'size', order: 'desc' })).toBe('/ui/?q=web&sort=size&order=desc');
    expect(repositoryUrl('team/web', { q: 'v1' })).toBe('/ui/r/team/web?q=v1');
    expect(imageUrl('team/web', 'v1', DIGEST)).toBe(`/ui/r/team/web/t/v1?platform=${encodeURIComponent(DIGEST)}`);
    expect(imageUrl('team/web', DIGEST)).toBe(`/ui/r/team/web/d/${DIGEST}`);
  });

  it('comes back after signing in only to a /ui/ address of this origin', () => {
    expect(safeNext('/ui/r/team/web?q=1')).toBe('/ui/r/team/web?q=1');
    for (const hostile of ['https://evil.example/', '//evil.example/ui/', '/ui\\..\\', '/v2/_catalog', null, undefined, '']) {
      expect(safeNext(hostile), String(hostile)).toBe('/ui/');
    }
    expect(signInUrl('/ui/usage')).toBe('/ui/sign-in?next=%2Fui%2Fusage');
    expect(signInUrl('/ui/')).toBe('/ui/sign-in');
  });
});

describe('how numbers, times and digests read', () => {
  it('writes sizes in binary units with three significant digits', () => {
    expect(humanSize(0)).toBe('0 B');
    expect(humanSize(1023)).toBe('1023 B');
    expect(humanSize(1024)).toBe('1.00 KiB');
    expect(humanSize(1536)).toBe('1.50 KiB');
    expect(humanSize(12.34 * 1024 * 1024)).toBe('12.3 MiB');
    expect(humanSize(123.4 * 1024 ** 3)).toBe('123 GiB');
    expect(humanSize(undefined)).toBe('—');
    expect(humanSize(null)).toBe('—');
  });

  it('writes times relative to now, and passes on what it cannot read', () => {
    const now = Date.parse('2025-06-01T12:00:00Z');
    expect(relativeTime('2025-06-01T11:59:50Z', now)).toBe('just now');
    expect(relativeTime('2025-06-01T11:55:00Z', now)).toBe('5 minutes ago');
    expect(relativeTime('2025-06-01T11:59:00.400Z', now)).toBe('1 minute ago');
    expect(relativeTime('2025-06-01T09:00:00Z', now)).toBe('3 hours ago');
    expect(relativeTime('2025-05-31T12:00:00Z', now)).toBe('yesterday');
    expect(relativeTime('2025-03-01T12:00:00Z', now)).toBe('3 months ago');
    expect(relativeTime('2023-06-01T12:00:00Z', now)).toBe('2 years ago');
    expect(relativeTime('2025-06-01T14:00:00Z', now)).toBe('in 2 hours');
    expect(relativeTime(null, now)).toBe('');
    expect(relativeTime('not a time', now)).toBe('not a time');
  });

  it('shortens digests to 12 hex digits, naming an algorithm other than sha256', () => {
    expect(shortDigest(DIGEST)).toBe('abababababab');
    expect(shortDigest(`sha512:${'cd'.repeat(64)}`)).toBe('sha512:cdcdcdcdcdcd');
    expect(shortDigest(undefined)).toBe('');
  });

  it('names platforms and tells attestations from runnable ones', () => {
    expect(platformName({ os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe('linux/arm64/v8');
    expect(platformName({ os: 'linux', architecture: 'amd64' })).toBe('linux/amd64');
    expect(isRunnable({ os: 'unknown', architecture: 'unknown' })).toBe(false);
    expect(isRunnable({ os: 'linux', architecture: 'amd64' })).toBe(true);
  });
});

describe('the challenge parser', () => {
  it('reads a Bearer challenge with quoted, escaped and bare parameters', () => {
    expect(parseChallenge('Bearer realm="https://r.example/token",service="registry",scope="repository:team/web:pull,push"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://r.example/token', service: 'registry', scope: 'repository:team/web:pull,push' },
    });
    expect(parseChallenge('Bearer realm="/token", scope="a b", error=insufficient_scope')?.params).toEqual({
      realm: '/token',
      scope: 'a b',
      error: 'insufficient_scope',
    });
    expect(parseChallenge('Basic realm="stowage \\"x\\""')).toEqual({ scheme: 'basic', params: { realm: 'stowage "x"' } });
    expect(parseChallenge('Negotiate')).toEqual({ scheme: 'negotiate', params: {} });
    expect(parseChallenge('')).toBeUndefined();
    expect(parseChallenge(null)).toBeUndefined();
  });

  it('never throws or loops on any header', () => {
    fc.assert(fc.property(fc.string(), (header) => void parseChallenge(header)));
  });
});

describe('the JSON tokenizer', () => {
  it('marks keys, strings, numbers and literals', () => {
    const tokens = tokenizeJson('{"a": "b", "n": -1.5e3, "t": true, "z": null}').filter((t) => t.kind !== 'space' && t.kind !== 'punct');
    expect(tokens).toEqual([
      { kind: 'key', text: '"a"' },
      { kind: 'string', text: '"b"' },
      { kind: 'key', text: '"n"' },
      { kind: 'number', text: '-1.5e3' },
      { kind: 'key', text: '"t"' },
      { kind: 'literal', text: 'true' },
      { kind: 'key', text: '"z"' },
      { kind: 'literal', text: 'null' },
    ]);
  });

  it('gives back the exact text for anything, JSON or not', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string()), (text) => {
        expect(
          tokenizeJson(text)
            .map((t) => t.text)
            .join(''),
        ).toBe(text);
      }),
    );
    expect(tokenizeJson('"<script>alert(1)</script>"')).toEqual([{ kind: 'string', text: '"<script>alert(1)</script>"' }]);
  });

  it('pretty-prints JSON and leaves anything else as it is', () => {
    expect(prettyJson('{"a":[1,2]}')).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
    expect(prettyJson('not json')).toBe('not json');
  });
});

describe('the UI sources', () => {
  it('never write HTML: everything from the server goes through Preact, which escapes it', () => {
    const dir = fileURLToPath(new URL('../../ui/src', import.meta.url));
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      // Code only: comments may name what the code avoids.
      const code = readFileSync(join(dir, file), 'utf8').replace(/^\s*\/\/.*$/gm, '');
      expect(code, file).not.toMatch(/innerHTML|outerHTML|dangerouslySetInnerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(/);
    }
  });
});
