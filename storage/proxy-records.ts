// The pull-through cache's own records in a proxied repository (proxy/): when upstream last
// confirmed each cached tag, and when a client last pulled each cached manifest. They sit under
// the repository's _proxy/ (storage/layout.ts) and reference nothing: garbage collection neither
// reads them nor keeps anything for them, and a record whose manifest is gone is simply stale.
import type { StorageDriver } from './drivers/driver.js';
import { isNotFound } from './errors.js';
import { parseDigest } from './grammar.js';
import { proxyPulledKey, proxyTagKey } from './layout.js';

/** What the cache knows of a tag: the digest it pointed at when upstream last confirmed it. */
export interface TagRecord {
  digest: string;
  /** Milliseconds since the epoch. */
  validatedAt: number;
}

export class ProxyRecords {
  constructor(private readonly driver: StorageDriver) {}

  /** The tag's record; undefined when there is none or it cannot be read as one. */
  async readTag(name: string, tag: string): Promise<TagRecord | undefined> {
    try {
      const record = JSON.parse((await this.driver.getContent(proxyTagKey(name, tag))).toString('utf8')) as TagRecord;
      return parseDigest(record.digest) && typeof record.validatedAt === 'number' ? record : undefined;
    } catch (err) {
      if (isNotFound(err) || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  async writeTag(name: string, tag: string, record: TagRecord): Promise<void> {
    await this.driver.putContent(proxyTagKey(name, tag), JSON.stringify(record));
  }

  async deleteTag(name: string, tag: string): Promise<void> {
    await this.driver.delete(proxyTagKey(name, tag));
  }

  /** When a client last pulled the manifest (ms since the epoch), as recorded; undefined when not. */
  async readPulled(name: string, digest: string): Promise<number | undefined> {
    try {
      const recorded = Number((await this.driver.getContent(proxyPulledKey(name, digest))).toString('utf8'));
      return Number.isFinite(recorded) ? recorded : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async writePulled(name: string, digest: string, at: number): Promise<void> {
    await this.driver.putContent(proxyPulledKey(name, digest), String(at));
  }

  async deletePulled(name: string, digest: string): Promise<void> {
    await this.driver.delete(proxyPulledKey(name, digest));
  }
}
