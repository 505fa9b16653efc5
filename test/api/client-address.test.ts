// http.trustedproxies (server/client-address.ts): X-Forwarded-For is believed only from a trusted
// proxy, and then the client is the right-most address no trusted proxy added.
import { describe, expect, it } from 'vitest';
import { TrustedProxies, isAddressOrCidr, normalizeAddress } from '../../server/client-address.js';
import { ConfigError, configFrom } from '../../server/config.js';

describe('the client address', () => {
  const proxies = new TrustedProxies(['10.0.0.0/8', '192.0.2.7', 'fd00::/8']);

  it('is the socket peer without trusted proxies, whatever the header says', () => {
    const none = new TrustedProxies([]);
    expect(none.clientOf('127.0.0.1', '203.0.113.1')).toBe('127.0.0.1');
    expect(none.clientOf('::ffff:127.0.0.1', undefined)).toBe('127.0.0.1');
    expect(proxies.clientOf('198.51.100.1', '203.0.113.1')).toBe('198.51.100.1');
  });

  it('is the right-most untrusted hop when a trusted proxy forwards', () => {
    expect(proxies.clientOf('10.1.1.1', '203.0.113.1')).toBe('203.0.113.1');
    expect(proxies.clientOf('::ffff:10.1.1.1', 'spoofed, 203.0.113.1, 192.0.2.7, 10.2.2.2')).toBe('203.0.113.1');
    expect(proxies.clientOf('10.1.1.1', '203.0.113.1:5555')).toBe('203.0.113.1');
    expect(proxies.clientOf('fd00::1', '[2001:db8::5]:443')).toBe('2001:db8::5');
    // Every hop trusted: the left-most; garbage: the last trusted hop; no header: the proxy.
    expect(proxies.clientOf('10.1.1.1', '10.3.3.3, 192.0.2.7')).toBe('10.3.3.3');
    expect(proxies.clientOf('10.1.1.1', '203.0.113.1, <script>')).toBe('10.1.1.1');
    expect(proxies.clientOf('10.1.1.1', undefined)).toBe('10.1.1.1');
  });

  it('takes addresses and CIDRs in the config, and refuses anything else', () => {
    for (const ok of ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8', '0.0.0.0/0']) expect(isAddressOrCidr(ok), ok).toBe(true);
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '::/129', '10.0.0/8', '']) expect(isAddressOrCidr(bad), bad).toBe(false);
    expect(configFrom({ http: { trustedproxies: ['10.0.0.0/8'] } }).http.trustedproxies).toEqual(['10.0.0.0/8']);
    expect(configFrom({}).http.trustedproxies).toEqual([]);
    expect(() => configFrom({ http: { trustedproxies: ['proxy.local'] } })).toThrow(ConfigError);
    expect(normalizeAddress('nonsense')).toBeUndefined();
  });

  it('reads stowage.audit with a 90 day maxage by default', () => {
    expect(configFrom({}).stowage.audit).toEqual({ maxageMs: 90 * 86_400_000 });
    expect(configFrom({ stowage: { audit: { path: '/var/log/stowage/audit.jsonl', maxage: '30d' } } }).stowage.audit).toEqual({
      path: '/var/log/stowage/audit.jsonl',
      maxageMs: 30 * 86_400_000,
    });
  });
});
