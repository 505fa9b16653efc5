// What the metadata database knows, asked and told through one class: repositories, manifests
// with what they reference, tags, pulls. Storage keeps the bytes and its own links (so a lost
// database is rebuilt from storage by `stowage reindex`); this answers listings at a cost that
// depends on the page, and gives garbage collection references it can check inside transactions.
//
// Invariants (enforced here, relied on by storage/manifests.ts and storage/jobs/gc.ts):
//   - A manifest row is written 'pending' before its push retains what it depends on, and becomes
//     'ready' only after every retain succeeded. Listings show ready manifests only, so a push
//     killed at any point never lists a manifest whose blobs may be missing.
//   - Every manifest row, pending or ready, is a reference: a collection keeps what any row names
//     (isReferenced), and deletes a manifest row only in a transaction that finds it unreachable.
//   - A tag row only ever points at a ready manifest (written by commitManifest or setTag).
//   - An immutable tag (storage/immutable-tags.ts) is never moved: a write passing `refuseMove`
//     throws that error, in the transaction and under the repository's lock, when the tag exists
//     and points at another manifest. Of two processes creating the same protected tag with
//     different digests, exactly one commits; the other is refused (storage/manifests.ts).
//   - A change is announced (storage/metadata/changes.ts) once it is committed and storage holds
//     it too, so a replica that drops its cache on the announcement re-reads the new state. Writes
//     that follow storage's (commitManifest, setTag) announce inside their transaction, which
//     sends it at commit or not at all; deletes that precede storage's (deleteTag,
//     deleteManifest) leave it to the caller (storage/manifests.ts). deleteIfUnreachable announces
//     at once: its manifest is untagged, and the content cache expires within the TTL anyway.
// Tests: test/storage/metadata-store.test.ts (on SQLite and PostgreSQL), test/gc/.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { MetadataDatabase } from './database.js';
import type { MetadataSchema } from './schema.js';
import { CHANGES_CHANNEL, encodeChange, type Change } from './changes.js';
import type { RegistryError } from '../../errors/registry-error.js';

export { CHANGES_CHANNEL };

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ManifestReference {
  digest: string;
  kind: 'blob' | 'manifest';
  size: number;
}

/** What a push tells the database about a manifest. */
export interface ManifestFacts {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  subject?: string;
  configDigest?: string;
  created?: string;
  platforms?: Platform[];
  annotations?: Record<string, string>;
  references: ManifestReference[];
}

export interface PageRequest {
  /** Entries after this one (lexically). */
  last?: string;
  /** At most this many; undefined: all of them. */
  n?: number;
}

export interface Page<T> {
  items: T[];
  /** More entries follow the last one. */
  more: boolean;
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** One recorded pull: a manifest by digest, or through a tag. */
export interface PullRecord {
  repository: string;
  digest: string;
  tag?: string;
  count: number;
  at: number;
}

/** A manifest as garbage collection sees it. */
export interface ManifestNode {
  id: number;
  repository: string;
  digest: string;
  subject: string | null;
  state: 'pending' | 'ready';
  pushedAt: number;
  tagged: boolean;
  children: string[];
  blobs: string[];
}

type Db = Kysely<MetadataSchema>;

export class MetadataStore {
  private readonly repositoryIds = new Map<string, number>();
  private writes = 0;

  constructor(readonly database: MetadataDatabase) {}

  private get db(): Kysely<MetadataSchema> {
    return this.database.db;
  }

  private get postgres(): boolean {
    return this.database.dialect === 'postgres';
  }

  // ---- repositories -------------------------------------------------------------------------

  /** The repository's id, creating its row on first use. */
  async ensureRepository(name: string, at = Date.now()): Promise<number> {
    const known = this.repositoryIds.get(name);
    if (known !== undefined) return known;
    await this.db
      .insertInto('repositories')
      .values({ name, created_at: at })
      .onConflict((c) => c.column('name').doNothing())
      .execute();
    const row = await this.db.selectFrom('repositories').select('id').where('name', '=', name).executeTakeFirstOrThrow();
    this.repositoryIds.set(name, Number(row.id));
    return Number(row.id);
  }

  async repositoryId(name: string, db: Db = this.db): Promise<number | undefined> {
    const known = this.repositoryIds.get(name);
    if (known !== undefined) return known;
    const row = await db.selectFrom('repositories').select('id').where('name', '=', name).executeTakeFirst();
    if (!row) return undefined;
    this.repositoryIds.set(name, Number(row.id));
    return Number(row.id);
  }

  async repositoryExists(name: string): Promise<boolean> {
    return (await this.repositoryId(name)) !== undefined;
  }

  /** Repository names in lexical order, one page. */
  async listRepositories(page: PageRequest = {}): Promise<Page<string>> {
    let query = this.db.selectFrom('repositories').select('name').orderBy('name');
    if (page.last !== undefined) query = query.where('name', '>', page.last);
    if (page.n !== undefined) query = query.limit(page.n + 1);
    const rows = await query.execute();
    return pageOf(
      rows.map((r) => r.name),
      page.n,
    );
  }

  async countRepositories(): Promise<number> {
    const row = await this.db
      .selectFrom('repositories')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async countTags(repository: string): Promise<number> {
    const repositoryId = await this.repositoryId(repository);
    if (repositoryId === undefined) return 0;
    const row = await this.db
      .selectFrom('tags')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('repository_id', '=', repositoryId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Deletes a repository's row (and so everything under it) when it has no manifest rows left:
   * for `stowage reindex`, once storage no longer holds the repository. False when rows remain.
   */
  async deleteRepository(name: string): Promise<boolean> {
    const repositoryId = await this.repositoryId(name);
    if (repositoryId === undefined) return false;
    const deleted = await this.write(async (tx) => {
      await this.lockRepository(tx, repositoryId);
      const manifest = await tx.selectFrom('manifests').select('id').where('repository_id', '=', repositoryId).limit(1).executeTakeFirst();
      if (manifest) return false;
      await tx.deleteFrom('repositories').where('id', '=', repositoryId).execute();
      return true;
    });
    if (deleted) {
      this.repositoryIds.delete(name);
      await this.announce({ kind: 'repository', repository: name });
    }
    return deleted;
  }

  // ---- manifests and tags -------------------------------------------------------------------

  /**
   * Records a manifest a push is storing, as 'pending' (a reference a collection honours) unless
   * the repository holds it already. Returns its id and whether this call created the row (the
   * push then owns it: abortManifest if the push fails).
   */
  async beginManifest(repository: string, facts: ManifestFacts, at: number, by?: string): Promise<{ id: number; created: boolean }> {
    const repositoryId = await this.ensureRepository(repository, at);
    const totalSize = facts.size + facts.references.reduce((sum, r) => sum + r.size, 0);
    return this.write(async (tx) => {
      await this.lockRepository(tx, repositoryId);
      const existing = await tx
        .selectFrom('manifests')
        .select(['id'])
        .where('repository_id', '=', repositoryId)
        .where('digest', '=', facts.digest)
        .executeTakeFirst();
      if (existing) return { id: Number(existing.id), created: false };
      const inserted = await tx
        .insertInto('manifests')
        .values({
          repository_id: repositoryId,
          digest: facts.digest,
          media_type: facts.mediaType,
          artifact_type: facts.artifactType ?? null,
          subject_digest: facts.subject ?? null,
          config_digest: facts.configDigest ?? null,
          size: facts.size,
          total_size: totalSize,
          created: facts.created ?? null,
          platforms: facts.platforms?.length ? JSON.stringify(facts.platforms) : null,
          annotations: facts.annotations && Object.keys(facts.annotations).length > 0 ? JSON.stringify(facts.annotations) : null,
          state: 'pending',
          pushed_at: at,
          pushed_by: by ?? null,
          last_pulled_at: null,
          pull_count: 0,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const id = Number(inserted.id);
      const references = dedupe(facts.references);
      for (let i = 0; i < references.length; i += INSERT_BATCH) {
        await tx
          .insertInto('manifest_references')
          .values(references.slice(i, i + INSERT_BATCH).map((r) => ({ manifest_id: id, digest: r.digest, kind: r.kind, size: r.size })))
          .execute();
      }
      return { id, created: true };
    });
  }

  /**
   * The push succeeded: the manifest becomes ready (listed) and the tag, if any, points at it.
   * False when the row is gone (a collection took it meanwhile): the push must fail.
   */
  async commitManifest(repository: string, id: number, options: { tag?: string; at: number; refuseMove?: RegistryError }): Promise<boolean> {
    const repositoryId = await this.ensureRepository(repository, options.at);
    return this.write(async (tx, announce) => {
      await this.lockRepository(tx, repositoryId);
      const updated = await tx.updateTable('manifests').set({ state: 'ready' }).where('id', '=', id).returning('digest').executeTakeFirst();
      if (!updated) return false;
      if (options.tag !== undefined) await this.writeTag(tx, repositoryId, options.tag, id, options.at, options.refuseMove);
      await announce(
        options.tag !== undefined ? { kind: 'tag', repository, tag: options.tag } : { kind: 'pushed', repository, digest: updated.digest },
      );
      return true;
    });
  }

  /** A failed push's own pending row goes (a ready row stays: another push completed it). */
  async abortManifest(id: number): Promise<void> {
    await this.db.deleteFrom('manifests').where('id', '=', id).where('state', '=', 'pending').execute();
  }

  /** Points a tag at a ready manifest of the repository; false when there is none by that digest. */
  async setTag(repository: string, tag: string, digest: string, at: number, refuseMove?: RegistryError): Promise<boolean> {
    const repositoryId = await this.ensureRepository(repository, at);
    return this.write(async (tx, announce) => {
      await this.lockRepository(tx, repositoryId);
      const row = await tx
        .selectFrom('manifests')
        .select('id')
        .where('repository_id', '=', repositoryId)
        .where('digest', '=', digest)
        .where('state', '=', 'ready')
        .executeTakeFirst();
      if (!row) return false;
      await this.writeTag(tx, repositoryId, tag, Number(row.id), at, refuseMove);
      await announce({ kind: 'tag', repository, tag });
      return true;
    });
  }

  /** refuseMove: thrown (rolling the transaction back) if the tag exists on another manifest. */
  private async writeTag(tx: Db, repositoryId: number, tag: string, manifestId: number, at: number, refuseMove?: RegistryError): Promise<void> {
    if (refuseMove) {
      const current = await tx
        .selectFrom('tags')
        .select('manifest_id')
        .where('repository_id', '=', repositoryId)
        .where('name', '=', tag)
        .executeTakeFirst();
      if (current && Number(current.manifest_id) !== manifestId) throw refuseMove;
    }
    // A tag moved to another manifest starts its pull statistics again.
    await tx
      .insertInto('tags')
      .values({ repository_id: repositoryId, name: tag, manifest_id: manifestId, pushed_at: at, last_pulled_at: null, pull_count: 0 })
      .onConflict((c) =>
        c.columns(['repository_id', 'name']).doUpdateSet({
          manifest_id: manifestId,
          pushed_at: at,
          last_pulled_at: sql`case when tags.manifest_id = ${manifestId} then tags.last_pulled_at else null end`,
          pull_count: sql`case when tags.manifest_id = ${manifestId} then tags.pull_count else 0 end`,
        }),
      )
      .execute();
  }

  /** Deletes a tag. Announces nothing: storage still has it; the caller announces once it is gone there too. */
  async deleteTag(repository: string, tag: string): Promise<void> {
    const repositoryId = await this.repositoryId(repository);
    if (repositoryId === undefined) return;
    // Under the repository's lock like every other tag write: the repository totals' triggers
    // (migration 0002) update its row, and rows locked in one order everywhere cannot deadlock.
    // (Announced by ManifestStore once storage has deleted the tag too.)
    await this.write(async (tx) => {
      await this.lockRepository(tx, repositoryId);
      await tx.deleteFrom('tags').where('repository_id', '=', repositoryId).where('name', '=', tag).execute();
    });
  }

  /** Deletes a manifest (and, by cascade, its tags and references). Announces nothing, as deleteTag. */
  async deleteManifest(repository: string, digest: string): Promise<void> {
    const repositoryId = await this.repositoryId(repository);
    if (repositoryId === undefined) return;
    await this.write(async (tx) => {
      await this.lockRepository(tx, repositoryId);
      await tx.deleteFrom('manifests').where('repository_id', '=', repositoryId).where('digest', '=', digest).execute();
    });
  }

  /** Whether the repository has a row for that manifest, pending or ready. */
  hasManifestRow(repository: string, digest: string): Promise<boolean> {
    return this.hasRow(repository, digest, false);
  }

  /** Whether the repository holds a ready manifest by that digest. */
  hasManifest(repository: string, digest: string): Promise<boolean> {
    return this.hasRow(repository, digest, true);
  }

  private async hasRow(repository: string, digest: string, readyOnly: boolean): Promise<boolean> {
    const repositoryId = await this.repositoryId(repository);
    if (repositoryId === undefined) return false;
    let query = this.db.selectFrom('manifests').select('id').where('repository_id', '=', repositoryId).where('digest', '=', digest);
    if (readyOnly) query = query.where('state', '=', 'ready');
    return (await query.executeTakeFirst()) !== undefined;
  }

  /** Tags of a repository in lexical order, one page; undefined when the repository is unknown. */
  async listTags(repository: string, page: PageRequest = {}): Promise<Page<string> | undefined> {
    const repositoryId = await this.repositoryId(repository);
    if (repositoryId === undefined) return undefined;
    let query = this.db.selectFrom('tags').select('name').where('repository_id', '=', repositoryId).orderBy('name');
    if (page.last !== undefined) query = query.where('name', '>', page.last);
    if (page.n !== undefined) query = query.limit(page.n + 1);
    const rows = await query.execute();
    return pageOf(
      rows.map((r) => r.name),
      page.n,
    );
  }

  /** The digest a tag points at; undefined when there is no such tag. */
  async tagTarget(repository: string, tag: string): Promise<string | undefined> {
    const repositoryId = await this.repositoryId(repository);
    if (repositoryId === undefined) return undefined;
    const row = await this.db
      .selectFrom('tags')
      .innerJoin('manifests', 'manifests.id', 'tags.manifest_id')
      .select('manifests.digest')
      .where('tags.repository_id', '=', repositoryId)
      .where('tags.name', '=', tag)
      .executeTakeFirst();
    return row?.digest;
  }

  /** Every tag of a repository with the digest it points at (for import and verification). */
  async tagTargets(repository: string): Promise<Map<string, string>> {
    const repositoryId = await this.repositoryId(repository);
    const targets = new Map<string, string>();
    if (repositoryId === undefined) return targets;
    const rows = await this.db
      .selectFrom('tags')
      .innerJoin('manifests', 'manifests.id', 'tags.manifest_id')
      .select(['tags.name', 'manifests.digest'])
      .where('tags.repository_id', '=', repositoryId)
      .execute();
    for (const row of rows) targets.set(row.name, row.digest);
    return targets;
  }

  /** The manifests whose subject is digest, optionally of one artifact type. */
  async referrers(repository: string, subject: string, artifactType?: string): Promise<ReferrerDescriptor[]> {
    const repositoryId = await this.repositoryId(repository);
    if (repositoryId === undefined) return [];
    let query = this.db
      .selectFrom('manifests')
      .select(['digest', 'media_type', 'size', 'artifact_type', 'annotations'])
      .where('repository_id', '=', repositoryId)
      .where('subject_digest', '=', subject)
      .where('state', '=', 'ready')
      .orderBy('digest');
    if (artifactType !== undefined) query = query.where('artifact_type', '=', artifactType);
    return (await query.execute()).map((row) => {
      const descriptor: ReferrerDescriptor = { mediaType: row.media_type, digest: row.digest, size: Number(row.size) };
      if (row.artifact_type) descriptor.artifactType = row.artifact_type;
      if (row.annotations) descriptor.annotations = JSON.parse(row.annotations) as Record<string, string>;
      return descriptor;
    });
  }

  // ---- pulls --------------------------------------------------------------------------------

  /** Adds a batch of pulls (storage/metadata/pull-recorder.ts gathers them), in one transaction. */
  async recordPulls(pulls: PullRecord[]): Promise<void> {
    if (pulls.length === 0) return;
    const later = (at: number) => sql<number>`case when last_pulled_at is null or last_pulled_at < ${at} then ${at} else last_pulled_at end`;
    // Repository by repository in id order, each under its lock: a push commits a repository's
    // manifest and tag rows under the same lock, so on PostgreSQL neither a push nor another
    // replica's batch can hold rows this one waits for while waiting for rows it holds.
    const byRepository = new Map<number, PullRecord[]>();
    for (const pull of pulls) {
      const repositoryId = await this.repositoryId(pull.repository);
      if (repositoryId === undefined) continue;
      byRepository.set(repositoryId, [...(byRepository.get(repositoryId) ?? []), pull]);
    }
    await this.write(async (tx) => {
      for (const repositoryId of [...byRepository.keys()].sort((a, b) => a - b)) {
        await this.lockRepository(tx, repositoryId);
        let lastPull: number | undefined;
        for (const pull of byRepository.get(repositoryId)!) {
          const [counted] = await tx
            .updateTable('manifests')
            .set({ pull_count: sql`pull_count + ${pull.count}`, last_pulled_at: later(pull.at) })
            .where('repository_id', '=', repositoryId)
            .where('digest', '=', pull.digest)
            .execute();
          if (counted && counted.numUpdatedRows > 0n) lastPull = Math.max(lastPull ?? 0, pull.at);
          if (pull.tag === undefined) continue;
          await tx
            .updateTable('tags')
            .set({ pull_count: sql`pull_count + ${pull.count}`, last_pulled_at: later(pull.at) })
            .where('repository_id', '=', repositoryId)
            .where('name', '=', pull.tag)
            .where('manifest_id', 'in', (q) =>
              q.selectFrom('manifests').select('id').where('repository_id', '=', repositoryId).where('digest', '=', pull.digest),
            )
            .execute();
        }
        // The repository's last pull, for sorting repositories by it (migration 0003).
        if (lastPull !== undefined) {
          await tx
            .updateTable('repositories')
            .set({ last_pulled_at: later(lastPull) })
            .where('id', '=', repositoryId)
            .execute();
        }
      }
    });
  }

  // ---- garbage collection -------------------------------------------------------------------

  /** Whether any manifest row, pending or ready, in any repository, is or references digest. */
  async isReferenced(digest: string): Promise<boolean> {
    const asManifest = await this.db.selectFrom('manifests').select('id').where('digest', '=', digest).limit(1).executeTakeFirst();
    if (asManifest) return true;
    const asReference = await this.db
      .selectFrom('manifest_references')
      .select('manifest_id')
      .where('digest', '=', digest)
      .limit(1)
      .executeTakeFirst();
    return asReference !== undefined;
  }

  /** Every digest a manifest row is or references (one read, for a collection's mark phase). */
  async referencedDigests(): Promise<Set<string>> {
    const digests = new Set<string>();
    for (const row of await this.db.selectFrom('manifests').select('digest').execute()) digests.add(row.digest);
    for (const row of await this.db.selectFrom('manifest_references').select('digest').distinct().execute()) digests.add(row.digest);
    return digests;
  }

  /** The manifests of a repository with their references and whether a tag names them. */
  async manifestGraph(repository: string): Promise<ManifestNode[]> {
    const repositoryId = await this.repositoryId(repository);
    if (repositoryId === undefined) return [];
    const manifests = await this.db
      .selectFrom('manifests')
      .select(['id', 'digest', 'subject_digest', 'state', 'pushed_at'])
      .select((eb) => eb.exists(eb.selectFrom('tags').select('tags.name').whereRef('tags.manifest_id', '=', 'manifests.id')).as('tagged'))
      .where('repository_id', '=', repositoryId)
      .execute();
    const nodes = new Map<number, ManifestNode>();
    for (const m of manifests) {
      nodes.set(Number(m.id), {
        id: Number(m.id),
        repository,
        digest: m.digest,
        subject: m.subject_digest,
        state: m.state,
        pushedAt: Number(m.pushed_at),
        tagged: Boolean(m.tagged),
        children: [],
        blobs: [],
      });
    }
    const references = await this.db
      .selectFrom('manifest_references')
      .innerJoin('manifests', 'manifests.id', 'manifest_references.manifest_id')
      .select(['manifest_references.manifest_id', 'manifest_references.digest', 'manifest_references.kind'])
      .where('manifests.repository_id', '=', repositoryId)
      .execute();
    for (const r of references) {
      const node = nodes.get(Number(r.manifest_id));
      if (node) (r.kind === 'manifest' ? node.children : node.blobs).push(r.digest);
    }
    return [...nodes.values()];
  }

  /**
   * Deletes a manifest row if, inside this transaction, nothing keeps it: no tag reaches it
   * (directly, through an index, or as the subject of what a tag reaches), no pending push
   * reaches it, and it was pushed at or before cutoff. True when it was deleted.
   */
  async deleteIfUnreachable(repository: string, digest: string, cutoff: number): Promise<boolean> {
    const repositoryId = await this.repositoryId(repository);
    if (repositoryId === undefined) return false;
    return this.write(async (tx, announce) => {
      await this.lockRepository(tx, repositoryId);
      const row = await tx
        .selectFrom('manifests')
        .select(['id', 'pushed_at', 'state'])
        .where('repository_id', '=', repositoryId)
        .where('digest', '=', digest)
        .executeTakeFirst();
      if (!row || row.state !== 'ready' || Number(row.pushed_at) > cutoff) return false;
      // Walk upward from the manifest: the indexes that list it and the subject it refers to,
      // and theirs; it is kept if anything on the way is tagged, pending or recent.
      const keeper = await sql<{ id: number }>`
        with recursive edges(parent_id, child_digest) as (
          select ref.manifest_id, ref.digest from manifest_references ref
            join manifests m on m.id = ref.manifest_id
            where m.repository_id = ${repositoryId} and ref.kind = 'manifest'
          union all
          select subject.id, referrer.digest from manifests referrer
            join manifests subject on subject.repository_id = referrer.repository_id and subject.digest = referrer.subject_digest
            where referrer.repository_id = ${repositoryId}
        ),
        up(id, digest) as (
          select id, digest from manifests where id = ${row.id}
          union
          select parent.id, parent.digest from up
            join edges on edges.child_digest = up.digest
            join manifests parent on parent.id = edges.parent_id
        )
        select up.id from up join manifests m on m.id = up.id
          where m.state = 'pending' or m.pushed_at > ${cutoff}
             or exists (select 1 from tags where tags.manifest_id = up.id)
          limit 1`.execute(tx);
      if (keeper.rows.length > 0) return false;
      await tx.deleteFrom('manifests').where('id', '=', row.id).execute();
      // Storage holds the revision until the collection deletes it next; it was untagged, so what
      // a replica may re-read meanwhile is only a pull by digest, cached no longer than the TTL.
      await announce({ kind: 'deleted', repository, digest });
      return true;
    });
  }

  /** Pending rows older than before: pushes that died (or are very slow). */
  async pendingBefore(before: number): Promise<{ repository: string; digest: string; id: number }[]> {
    const rows = await this.db
      .selectFrom('manifests')
      .innerJoin('repositories', 'repositories.id', 'manifests.repository_id')
      .select(['repositories.name', 'manifests.digest', 'manifests.id'])
      .where('manifests.state', '=', 'pending')
      .where('manifests.pushed_at', '<', before)
      .execute();
    return rows.map((r) => ({ repository: r.name, digest: r.digest, id: Number(r.id) }));
  }

  /** Marks a pending row ready without a tag (a recovered push whose storage is complete). */
  async markReady(id: number): Promise<void> {
    await this.db.updateTable('manifests').set({ state: 'ready' }).where('id', '=', id).execute();
  }

  // ---- facts about the database -------------------------------------------------------------

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.db.selectFrom('stowage_meta').select('value').where('key', '=', key).executeTakeFirst())?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('stowage_meta')
      .values({ key, value })
      .onConflict((c) => c.column('key').doUpdateSet({ value }))
      .execute();
  }

  /**
   * This database's identity, made on first use: the processes on one storage must all use one
   * database (storage/database-claim.ts). A fresh database is another one; a copy of an SQLite
   * file is the same one.
   */
  async databaseId(): Promise<string> {
    await this.db
      .insertInto('stowage_meta')
      .values({ key: DATABASE_ID_KEY, value: randomUUID() })
      .onConflict((c) => c.column('key').doNothing())
      .execute();
    return (await this.getMeta(DATABASE_ID_KEY))!;
  }

  /** Forgets cached repository ids (after another process may have deleted rows). */
  forget(): void {
    this.repositoryIds.clear();
  }

  /**
   * A write transaction. SQLite: BEGIN IMMEDIATE, so a transaction that reads first and writes
   * later never has to upgrade its lock while another process (a CLI command beside the server)
   * writes; that upgrade fails at once with SQLITE_BUSY instead of waiting out busy_timeout.
   * What the body announces goes out when the transaction commits, and only then (PostgreSQL
   * delivers a NOTIFY at commit; SQLite's in-process listeners are called after it).
   */
  private async write<T>(body: (tx: Db, announce: (change: Change) => Promise<void>) => Promise<T>): Promise<T> {
    try {
      return await this.transact(body);
    } finally {
      this.writes++;
    }
  }

  /**
   * How many write transactions this process has run: an answer computed from the database
   * (storage/metadata/costly-aggregate.ts) is current while it has not moved.
   */
  get writeCount(): number {
    return this.writes;
  }

  private async transact<T>(body: (tx: Db, announce: (change: Change) => Promise<void>) => Promise<T>): Promise<T> {
    if (this.postgres) {
      return this.db.transaction().execute((tx) =>
        body(tx, async (change) => {
          await sql`select pg_notify(${CHANGES_CHANNEL}, ${encodeChange(change)})`.execute(tx);
        }),
      );
    }
    const committed: Change[] = [];
    const result = await this.db.connection().execute(async (connection) => {
      await sql`begin immediate`.execute(connection);
      try {
        const result = await body(connection, async (change) => void committed.push(change));
        await sql`commit`.execute(connection);
        return result;
      } catch (err) {
        await sql`rollback`.execute(connection).catch(() => {});
        throw err;
      }
    });
    for (const change of committed) await this.announce(change);
    return result;
  }

  /**
   * Tells every process on this database (this one included) what changed, for a change made
   * outside one of this class's transactions (a delete, once storage has it too). Throws if the
   * database cannot be told: the other replicas would go on serving the old state.
   */
  async announce(change: Change): Promise<void> {
    await this.database.announce(CHANGES_CHANNEL, encodeChange(change));
  }

  /**
   * Serialises a repository's pushes, tag moves and collections on PostgreSQL (SQLite runs one
   * write transaction at a time anyway), so a collection's reachability check sees every
   * committed tag, and a tag write never lands between that check and the delete.
   */
  private async lockRepository(tx: Db, repositoryId: number): Promise<void> {
    if (this.postgres) await sql`select pg_advisory_xact_lock(${LOCK_SPACE}, ${repositoryId}::int)`.execute(tx);
  }
}

/** stowage_meta's key for databaseId(). */
const DATABASE_ID_KEY = 'database_id';
/** Keys pg_advisory_xact_lock's first argument, so our locks do not meet anyone else's. */
const LOCK_SPACE = 0x5704;
/** Rows per INSERT (SQLite allows 32,766 parameters per statement). */
const INSERT_BATCH = 500;

function pageOf(items: string[], n: number | undefined): Page<string> {
  if (n === undefined || items.length <= n) return { items, more: false };
  return { items: items.slice(0, n), more: true };
}

function dedupe(references: ManifestReference[]): ManifestReference[] {
  const byDigest = new Map<string, ManifestReference>();
  for (const r of references) if (!byDigest.has(r.digest)) byDigest.set(r.digest, r);
  return [...byDigest.values()];
}
