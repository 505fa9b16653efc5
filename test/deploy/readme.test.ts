// deploy/README.md documents every deploy file with links that resolve, shows the container run
// unprivileged, and the top-level README points to it.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, readRepoFile } from './deploy-files.js';

const readme = readRepoFile('deploy/README.md');

/** The shell commands of fenced sh blocks, continuation lines joined. */
function shellCommands(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks
    .flatMap((block) => block.replace(/\\\n\s*/g, ' ').split('\n'))
    .map((l) => l.trim())
    .filter(Boolean);
}

describe('deploy/README.md', () => {
  it('links only to files that exist', () => {
    const targets = [...readme.matchAll(/\]\(([^)#]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/.test(t));
    expect(targets.length).toBeGreaterThan(5);
    for (const target of targets) expect(existsSync(join(ROOT, 'deploy', target)), target).toBe(true);
  });

  it('documents every file in deploy/, compose.yaml included', () => {
    const files = readdirSync(join(ROOT, 'deploy')).filter((f) => f !== 'README.md');
    expect(files).toEqual(expect.arrayContaining(['Dockerfile', 'config.yml', 'kubernetes', 'stowage.service']));
    for (const file of [...files, 'compose.yaml']) expect(readme, file).toContain(`\`${file}`);
    for (const file of readdirSync(join(ROOT, 'deploy/kubernetes'))) expect(readme, file).toContain(file);
  });

  it('runs the image with every capability dropped, a read-only root and no new privileges', () => {
    const run = shellCommands(readme).find((c) => c.startsWith('docker run -d'));
    expect(run).toBeDefined();
    for (const flag of [
      '--cap-drop ALL',
      '--read-only',
      '--security-opt no-new-privileges',
      '--tmpfs /tmp',
      '-v stowage-data:/var/lib/registry',
      '-p 127.0.0.1:5000:5000',
    ]) {
      expect(run, flag).toContain(flag);
    }
    for (const command of shellCommands(readme).filter((c) => c.startsWith('docker run'))) {
      expect(command).not.toMatch(/--privileged|--(net|network|pid|ipc|uts|userns)[= ]host|--cap-add/);
    }
  });
});

describe('README.md', () => {
  it('ends with a Deploy section pointing to deploy/', () => {
    const top = readRepoFile('README.md');
    const section = top.slice(top.indexOf('\n## Deploy\n'));
    expect(top.indexOf('\n## Deploy\n')).toBeGreaterThan(0);
    expect(section).toContain('](deploy/README.md)');
    expect(section).toContain('--cap-drop ALL --read-only --security-opt no-new-privileges');
  });
});
