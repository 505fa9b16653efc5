// `stowage robot create|ls|rm`: robot accounts (auth/robot-accounts.ts), written to the metadata
// database directly (safe while the server runs; it sees a removal within a few seconds). Each
// resolves with the exit status: 0, 1 (a name taken, an unknown robot) or 2 (invalid input).
import type { RegistryStorage } from '../../storage/registry.js';
import { RobotAccounts, RobotInputError, describeRobot, type RobotRequest, type RobotView } from '../../auth/robot-accounts.js';
import { commandOrigin } from './audit.js';
import { RobotExistsError } from '../../storage/metadata/robots.js';

type Print = (line: string) => void;

export interface RobotCommandOutput {
  print: Print;
  /** Where refusals go (stderr). */
  note: Print;
}

function accounts(storage: RegistryStorage, out: RobotCommandOutput): RobotAccounts | undefined {
  if (storage.robots) return new RobotAccounts(storage.robots);
  out.note('stowage: robot accounts need the metadata database (stowage.database)');
  return undefined;
}

export async function robotCreateCommand(storage: RegistryStorage, request: RobotRequest, json: boolean, out: RobotCommandOutput): Promise<number> {
  const robots = accounts(storage, out);
  if (!robots) return 1;
  try {
    const { robot, secret } = await robots.create(request);
    storage.audit.record({ ...commandOrigin(), action: 'robot-create', detail: describeRobot(robot) });
    if (json) out.print(JSON.stringify({ ...robot, secret }));
    else {
      out.print(
        `created ${robot.login} (${robot.actions.join(',')} on ${robot.repositories.join(' ')}${robot.expiresAt ? `, expires ${robot.expiresAt}` : ''})`,
      );
      out.print('its secret, shown only now (docker login -u ' + `'${robot.login}' --password-stdin):`);
      out.print(secret);
    }
    return 0;
  } catch (err) {
    if (err instanceof RobotInputError) {
      out.note(`stowage: ${err.message}`);
      return 2;
    }
    if (err instanceof RobotExistsError) {
      out.note(`stowage: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

function row(robot: RobotView): string[] {
  return [
    robot.name,
    robot.repositories.join(','),
    robot.actions.join(','),
    robot.createdAt,
    robot.expiresAt ?? 'never',
    robot.lastUsedAt ?? 'never',
  ];
}

export async function robotListCommand(storage: RegistryStorage, json: boolean, out: RobotCommandOutput): Promise<number> {
  const robots = accounts(storage, out);
  if (!robots) return 1;
  const list = await robots.list();
  if (json) {
    out.print(JSON.stringify(list));
    return 0;
  }
  const rows = [['NAME', 'REPOSITORIES', 'ACTIONS', 'CREATED', 'EXPIRES', 'LAST USED'], ...list.map(row)];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) out.print(r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
  return 0;
}

export async function robotRemoveCommand(storage: RegistryStorage, name: string, out: RobotCommandOutput): Promise<number> {
  const robots = accounts(storage, out);
  if (!robots) return 1;
  if (await robots.remove(name)) {
    storage.audit.record({ ...commandOrigin(), action: 'robot-rm', detail: `robot$${name}` });
    out.print(`removed robot$${name}`);
    return 0;
  }
  out.note(`stowage: no robot named ${JSON.stringify(name.slice(0, 80))}`);
  return 1;
}
