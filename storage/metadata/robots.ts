// Robot accounts in the metadata database (migration 0004): their names, the hash of each one's
// secret, grants and times. What a robot may do and how its secret is checked are auth/'s
// (auth/robot-accounts.ts); this only stores and reads rows. The secret is 256 random bits and
// only its SHA-256 is kept: a slow hash (bcrypt) protects guessable human passwords, and nobody
// guesses 2^256, so a fast hash costs a login nothing and loses no safety.
import type { MetadataDatabase } from './database.js';
import type { RobotsTable } from './schema.js';

export interface RobotRecord {
  name: string;
  /** SHA-256 of the secret, hex. */
  secretHash: string;
  /** Repository globs. */
  repositories: string[];
  actions: string[];
  createdAt: number;
  expiresAt?: number;
  lastUsedAt?: number;
}

/** Another robot has the name. */
export class RobotExistsError extends Error {
  constructor(name: string) {
    super(`robot ${name} exists already`);
    this.name = 'RobotExistsError';
  }
}

/** last_used_at is written at most this often per robot: a login per request must not mean a write per request. */
const TOUCH_INTERVAL_MS = 60_000;

function fromRow(row: RobotsTable): RobotRecord {
  return {
    name: row.name,
    secretHash: row.secret_hash,
    repositories: JSON.parse(row.repositories) as string[],
    actions: JSON.parse(row.actions) as string[],
    createdAt: Number(row.created_at),
    expiresAt: row.expires_at === null ? undefined : Number(row.expires_at),
    lastUsedAt: row.last_used_at === null ? undefined : Number(row.last_used_at),
  };
}

export class RobotStore {
  /** When this process last wrote each robot's last use. */
  private readonly touched = new Map<string, number>();

  constructor(readonly database: MetadataDatabase) {}

  /** Inserts the robot; throws RobotExistsError when the name is taken. */
  async create(robot: Omit<RobotRecord, 'lastUsedAt'>): Promise<void> {
    const { db } = this.database;
    const inserted = await db
      .insertInto('robots')
      .values({
        name: robot.name,
        secret_hash: robot.secretHash,
        repositories: JSON.stringify(robot.repositories),
        actions: JSON.stringify(robot.actions),
        created_at: robot.createdAt,
        expires_at: robot.expiresAt ?? null,
        last_used_at: null,
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) throw new RobotExistsError(robot.name);
  }

  async list(): Promise<RobotRecord[]> {
    const rows = await this.database.db.selectFrom('robots').selectAll().orderBy('name').execute();
    return rows.map(fromRow);
  }

  async get(name: string): Promise<RobotRecord | undefined> {
    const row = await this.database.db.selectFrom('robots').selectAll().where('name', '=', name).executeTakeFirst();
    return row && fromRow(row);
  }

  /** Deletes the robot; false when there was none. */
  async remove(name: string): Promise<boolean> {
    const deleted = await this.database.db.deleteFrom('robots').where('name', '=', name).executeTakeFirst();
    this.touched.delete(name);
    return Number(deleted.numDeletedRows) > 0;
  }

  /** Records a use at `at`, unless this process wrote one for the robot within the last minute. */
  async touch(name: string, at: number): Promise<void> {
    const last = this.touched.get(name);
    if (last !== undefined && at - last < TOUCH_INTERVAL_MS) return;
    this.touched.set(name, at);
    await this.database.db.updateTable('robots').set({ last_used_at: at }).where('name', '=', name).execute();
  }
}
