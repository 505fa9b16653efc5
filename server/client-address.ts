// Which address a request comes from, once, for everything that asks (the audit log, the login
// limiter, the upload limiter, webhook events). Without http.trustedproxies it is the socket's
// peer. With them, X-Forwarded-For is believed as far as trusted proxies wrote it: read from the
// right, each hop a trusted proxy added is skipped, and the first address no trusted proxy
// vouches for is the client (anything to its left the client could have written itself).
import type { Context, Next } from 'koa';
import { BlockList, isIP } from 'node:net';

/** An IP address or a CIDR (10.0.0.0/8, fd00::/8), as http.trustedproxies takes them. */
export function isAddressOrCidr(entry: string): boolean {
  const [address, prefix, extra] = entry.trim().split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** A hop as written in X-Forwarded-For or by the socket: brackets, a port and the IPv4-in-IPv6 prefix removed; undefined when it is no address. */
export function normalizeAddress(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let value = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) value = bracketed[1];
  else if (/^[\d.]+:\d+$/.test(value)) value = value.slice(0, value.indexOf(':'));
  if (value.toLowerCase().startsWith('::ffff:') && isIP(value.slice(7)) === 4) value = value.slice(7);
  return isIP(value) === 0 ? undefined : value;
}

export class TrustedProxies {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, prefix] = entry.trim().split('/');
      const normalized = normalizeAddress(address) ?? address;
      const type = isIP(normalized) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.list.addAddress(normalized, type);
      else this.list.addSubnet(normalized, Number(prefix), type);
    }
    this.size = entries.length;
  }

  trusts(address: string): boolean {
    return this.list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }

  /** The client's address, from the socket's peer and the X-Forwarded-For header. */
  clientOf(peer: string | undefined, forwardedFor: string | undefined): string {
    let client = normalizeAddress(peer);
    if (client === undefined) return peer ?? '';
    if (this.size === 0 || !forwardedFor || !this.trusts(client)) return client;
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeAddress(hops[i]);
      // Garbage is not an address a trusted proxy wrote: the last trusted hop is all we know.
      if (hop === undefined) return client;
      client = hop;
      if (!this.trusts(hop)) return hop;
    }
    return client;
  }
}

/** Sets ctx.state.client for the request (first in the stack, before anything needs it). */
export function clientAddress(proxies: TrustedProxies) {
  return async function setClientAddress(ctx: Context, next: Next): Promise<void> {
    ctx.state.client = proxies.clientOf(ctx.req.socket.remoteAddress, ctx.get('X-Forwarded-For') || undefined);
    await next();
  };
}

/** The request's client address (ctx.state.client, or the socket's peer before it is set). */
export function clientOf(ctx: Context): string {
  return ctx.state.client ?? ctx.ip;
}
