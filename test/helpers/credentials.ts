// Credentials for registries with authentication: a Basic Authorization header, and an htpasswd
// file in the format Distribution reads (bcrypt, $2y$).
import * as fsp from 'node:fs/promises';
import bcrypt from 'bcryptjs';

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Writes user -> password as bcrypt hashes, cost 4 unless costs says otherwise (fast tests). */
export async function writeHtpasswd(file: string, users: Record<string, string>, costs: Record<string, number> = {}): Promise<void> {
  const lines = Object.entries(users).map(([user, password]) => `${user}:${bcrypt.hashSync(password, costs[user] ?? 4).replace(/^\$2b\$/, '$2y$')}`);
  await fsp.writeFile(file, `${lines.join('\n')}\n`);
}
