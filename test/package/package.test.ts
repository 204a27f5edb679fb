/**
 * `npm run package` builds what Flex Consumption's one deploy takes. The zip is unpacked into a folder outside the
 * repository (so nothing resolves from the repo's node_modules) and the local host loads the app from it: every
 * function the app registers from the repository is registered from the package, and the app answers.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { demoPolicy } from '../../local/start';
import { repoRoot, startProcess, tempDir, type RunningProcess } from '../support/processes';

/** Every entry of the zip, written under `dir`; returns the entry names. */
async function unzip(file: string, dir: string): Promise<string[]> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true }, (err, z) => (err ? reject(err) : resolve(z))),
  );
  const names: string[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve());
    zip.on('entry', (entry: yauzl.Entry) => {
      names.push(entry.fileName);
      if (entry.fileName.endsWith('/')) return zip.readEntry();
      zip.openReadStream(entry, (err, stream) => {
        if (err) return reject(err);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', reject);
        stream.on('end', () => {
          const target = path.join(dir, entry.fileName);
          mkdirSync(path.dirname(target), { recursive: true });
          writeFileSync(target, Buffer.concat(chunks), { mode: (entry.externalFileAttributes >>> 16) & 0o777 });
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
  return names;
}

const GIT_SHA = '0123456789abcdef0123456789abcdef01234567';

interface Described {
  name: string;
  trigger: string;
}

async function functionsOf(host: RunningProcess): Promise<Described[]> {
  const res = await fetch(`${host.url}/admin/functions`);
  expect(res.status).toBe(200);
  const list = (await res.json()) as Described[];
  return list.map((f) => ({ name: f.name, trigger: f.trigger })).sort((a, b) => a.name.localeCompare(b.name));
}

describe('npm run package', { timeout: 240_000 }, () => {
  const work = tempDir('package');
  const zipFile = path.join(work, 'champion.zip');
  const appDir = path.join(work, 'app');
  let lastLine = '';
  let names: string[] = [];
  const hosts: RunningProcess[] = [];

  beforeAll(async () => {
    // What `npm run package` runs once it has built (the test command builds first).
    const run = spawnSync(process.execPath, [path.join(repoRoot, 'dist/scripts/package.js'), '--out', zipFile], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`packaging failed (${run.status}):\n${run.stdout}${run.stderr}`);
    lastLine = run.stdout.trimEnd().split('\n').at(-1) ?? '';
    names = await unzip(zipFile, appDir);
  });

  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
  });

  it('prints the path of the zip as its last line', () => {
    expect(lastLine).toBe(zipFile);
  });

  it('holds host.json, the compiled app, jobs/ and environments/, with package.json pointing at the functions', () => {
    expect(names).toContain('host.json');
    expect(names).toContain('package.json');
    expect(names).toContain('jobs/train-demand.json');
    expect(names).toContain('environments/train.json');
    expect(names).toContain('dist/functions/promotion.js');
    expect(names).toContain('dist/lib/activities.js');
    expect(readFileSync(path.join(appDir, 'host.json'), 'utf8')).toBe(
      readFileSync(path.join(repoRoot, 'host.json'), 'utf8'),
    );
    const pkg = JSON.parse(readFileSync(path.join(appDir, 'package.json'), 'utf8')) as Record<string, unknown>;
    const repoPkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.main).toBe(repoPkg.main);
    expect(pkg.dependencies).toEqual(repoPkg.dependencies);
    expect(pkg).not.toHaveProperty('devDependencies');
    expect(pkg).not.toHaveProperty('scripts');
  });

  it('leaves out the local runtime, tests, benchmarks, the CLI and every dev dependency', () => {
    const outside = names.filter((n) =>
      /^(local|test|bench|cli|bin|infra|scripts|\.tools|\.data|dist\/(local|test|bench|cli|scripts))\//.test(n),
    );
    expect(outside).toEqual([]);
    expect(names.filter((n) => n.endsWith('.ts') && !n.startsWith('node_modules/'))).toEqual([]);
    const repoPkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = [
      ...Object.keys(repoPkg.devDependencies).map((d) => `node_modules/${d}`),
      ...Object.entries(lock.packages)
        .filter(([, info]) => info.dev)
        .map(([dir]) => dir),
    ];
    expect(devOnly).toContain('node_modules/typescript');
    expect(devOnly.filter((dir) => names.some((n) => n.startsWith(`${dir}/`)))).toEqual([]);
    for (const dep of Object.keys(repoPkg.dependencies)) {
      expect(names).toContain(`node_modules/${dep}/package.json`);
    }
  });

  it('loads in the local host from the unpacked folder with the same registrations as the repository', async () => {
    const policies = path.join(work, 'policies.json');
    writeFileSync(policies, JSON.stringify({ policies: [demoPolicy()] }));
    const env = {
      AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
      AZURE_RESOURCE_GROUP: 'rg',
      AZUREML_WORKSPACE_NAME: 'ws',
      AZUREML_ACCESS_TOKEN: 'token',
      CHAMPION_APPROVAL_SECRET: 'x'.repeat(32),
      CHAMPION_POLICIES: `@${policies}`,
      CHAMPION_GIT_SHA: GIT_SHA,
    };
    const start = (dir: string, data: string) =>
      startProcess('dist/local/runtime/main.js', ['--app-dir', dir, '--port', '0', '--data-dir', data], { env });
    const [fromPackage, fromRepo] = await Promise.all([
      start(appDir, path.join(work, 'data-package')),
      start(repoRoot, path.join(work, 'data-repo')),
    ]);
    hosts.push(fromPackage, fromRepo);

    const packaged = await functionsOf(fromPackage);
    expect(packaged.map((f) => f.name)).toEqual(
      expect.arrayContaining(['promoteModel', 'onModelRegistered', 'health']),
    );
    expect(packaged).toEqual(await functionsOf(fromRepo));

    const health = await fetch(`${fromPackage.url}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', models: ['demand'], gitCommit: GIT_SHA });
  });
});
