/**
 * azure.yaml and the hooks it runs (infra/hooks/*.sh), run for real with stand-ins for az, azd, git and npm on the
 * PATH that record each call: the templates are compiled and linted before anything else, a provision into the
 * workspace's own resource group is refused, the signing key is generated once and printed only when run by hand,
 * the artefact `npm run package` names is laid out where azure.yaml's `dist` points, and `azd down` never reaches
 * the workspace.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from './app-code';

const HOOKS = join(ROOT, 'infra', 'hooks');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A copy of infra/hooks in a scratch project, with recording stand-ins for the tools the hooks call. */
function scratch(tools: Record<string, string> = {}): {
  root: string;
  log: () => string[];
  run: (
    hook: string,
    env?: Record<string, string>,
    mode?: string,
  ) => { status: number | null; stdout: string; stderr: string };
} {
  const root = mkdtempSync(join(tmpdir(), 'champion-hooks-'));
  dirs.push(root);
  cpSync(HOOKS, join(root, 'infra', 'hooks'), { recursive: true });
  const bin = join(root, 'bin');
  mkdirSync(bin);
  const logFile = join(root, 'calls.log');
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> '${logFile}'\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  stub('az', tools.az ?? 'exit 0');
  stub('azd', tools.azd ?? 'exit 0');
  stub(
    'git',
    tools.git ??
      'case "$1" in rev-parse) echo 0123456789abcdef0123456789abcdef01234567 ;; remote) echo https://example.invalid/champion.git ;; esac',
  );
  stub('npm', tools.npm ?? 'exit 0');
  return {
    root,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n') : []),
    run: (hook, env = {}, mode = 'env') => {
      const r = spawnSync('sh', [join(root, 'infra', 'hooks', hook), mode], {
        env: { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: root, ...env },
        encoding: 'utf8',
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
  };
}

const BASE = {
  AZURE_ENV_NAME: 'prod',
  AZURE_RESOURCE_GROUP: 'rg-champion',
  AZUREML_WORKSPACE_NAME: 'mlw',
  AZUREML_WORKSPACE_RESOURCE_GROUP: 'rg-ml',
  CHAMPION_POLICIES: '{"policies":[]}',
};

describe('azure.yaml', () => {
  const yaml = readFileSync(join(ROOT, 'azure.yaml'), 'utf8');

  it('deploys the service as a function app from the laid-out artefact, with the hooks that exist', () => {
    expect(yaml).toMatch(/^\s+host: function$/m);
    expect(yaml).toMatch(/^\s+dist: \.deploy$/m);
    expect(yaml).toMatch(/^\s+path: infra$/m);
    const hooks = [...yaml.matchAll(/run: sh (infra\/hooks\/[\w-]+\.sh) azd$/gm)].map((m) => m[1]);
    expect(hooks.sort()).toEqual([
      'infra/hooks/package.sh',
      'infra/hooks/postdeploy.sh',
      'infra/hooks/predown.sh',
      'infra/hooks/preprovision.sh',
    ]);
    for (const h of hooks) expect(existsSync(join(ROOT, h ?? ''))).toBe(true);
    expect(readFileSync(join(HOOKS, 'package.sh'), 'utf8')).toContain('npm run --silent package | tail -n 1');
  });

  it('every hook is valid sh', () => {
    for (const f of readdirSync(HOOKS)) {
      const r = spawnSync('sh', ['-n', join(HOOKS, f)], { encoding: 'utf8' });
      expect(r.status, `${f}: ${r.stderr}`).toBe(0);
    }
  });
});

describe('preprovision', () => {
  it('compiles and lints first, then generates the signing key, the app name and the sign-in registration once', () => {
    const s = scratch({
      az: 'case "$1 $2" in "ad app") [ "$3" = create ] && echo 11111111-2222-3333-4444-555555555555 ;; esac; exit 0',
    });
    const r = s.run('preprovision.sh', BASE);
    expect(r.status, r.stderr).toBe(0);
    const calls = s.log().filter((c) => c.startsWith('az '));
    expect(calls.slice(0, 2)).toEqual([
      'az bicep build --file infra/main.bicep --stdout',
      'az bicep lint --file infra/main.bicep',
    ]);
    const exports = Object.fromEntries(
      [...r.stdout.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    expect(exports.CHAMPION_GIT_SHA).toBe('0123456789abcdef0123456789abcdef01234567');
    expect(exports.CHAMPION_APPROVAL_SECRET?.length).toBeGreaterThanOrEqual(32);
    expect(exports.AZURE_FUNCTION_APP_NAME).toMatch(/^func-champion-[0-9a-f]{12}$/);
    expect(exports.CHAMPION_AUTH_CLIENT_ID).toBe('11111111-2222-3333-4444-555555555555');
    const create = calls.find((c) => c.startsWith('az ad app create'));
    expect(create).toContain(`https://${exports.AZURE_FUNCTION_APP_NAME}.azurewebsites.net/.auth/login/aad/callback`);
    expect(create).toContain('--enable-id-token-issuance true');
    // The secret never reaches stderr (the log).
    expect(r.stderr).not.toContain(exports.CHAMPION_APPROVAL_SECRET);

    // A second run with the values kept generates nothing again.
    const again = scratch();
    const r2 = again.run('preprovision.sh', { ...BASE, ...exports });
    expect(r2.status, r2.stderr).toBe(0);
    expect(r2.stdout).not.toContain('CHAMPION_APPROVAL_SECRET');
    expect(again.log().some((c) => c.startsWith('az ad app'))).toBe(false);
  });

  it('under azd, keeps the values in the azd environment and prints none of them', () => {
    const s = scratch({ az: 'case "$1 $2" in "ad app") [ "$3" = create ] && echo app-id ;; esac; exit 0' });
    const r = s.run('preprovision.sh', BASE, 'azd');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    const kept = s.log().filter((c) => c.startsWith('azd env set'));
    expect(kept.map((c) => c.split(' ')[3])).toEqual(
      expect.arrayContaining(['CHAMPION_APPROVAL_SECRET', 'CHAMPION_AUTH_CLIENT_ID', 'AZURE_FUNCTION_APP_NAME']),
    );
  });

  it("refuses the workspace's resource group, missing values and policies that are not JSON, before any change", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...BASE, AZURE_RESOURCE_GROUP: 'RG-ML' }, /workspace's resource group/],
      [{ ...BASE, AZUREML_WORKSPACE_NAME: '' }, /AZUREML_WORKSPACE_NAME is not set/],
      [{ ...BASE, CHAMPION_POLICIES: '{policies' }, /not JSON/],
    ];
    for (const [env, message] of cases) {
      const s = scratch();
      const r = s.run('preprovision.sh', env);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(s.log().filter((c) => c.startsWith('az ') && !c.startsWith('az bicep'))).toEqual([]);
    }
  });

  it("reuses the workspace's existing system topic, unless it is this environment's own", () => {
    const s = scratch({ az: '[ "$1 $2 $3" = "eventgrid system-topic list" ] && echo theirs-topic; exit 0' });
    const r = s.run('preprovision.sh', {
      ...BASE,
      CHAMPION_AUTH_CLIENT_ID: 'x',
      AZURE_FUNCTION_APP_NAME: 'f',
      CHAMPION_APPROVAL_SECRET: 'k'.repeat(32),
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("export AZUREML_SYSTEM_TOPIC_NAME='theirs-topic'");
    const list = s.log().find((c) => c.startsWith('az eventgrid system-topic list'));
    expect(list).toContain('tags."azd-env-name" != \'prod\'');
    expect(list).toContain("ends_with(source, '/mlw')");
  });

  it('stops when the templates do not build', () => {
    const s = scratch({ az: '[ "$1 $2" = "bicep build" ] && exit 1; exit 0' });
    const r = s.run('preprovision.sh', BASE);
    expect(r.status).not.toBe(0);
    expect(s.log().filter((c) => c.startsWith('az '))).toEqual(['az bicep build --file infra/main.bicep --stdout']);
  });
});

describe('package', () => {
  it('lays out the zip `npm run package` names on its last line in .deploy/', () => {
    const s = scratch();
    const staging = join(s.root, 'staging');
    mkdirSync(join(staging, 'dist'), { recursive: true });
    writeFileSync(join(staging, 'host.json'), '{}');
    writeFileSync(join(staging, 'dist', 'index.js'), '');
    const zip = join(s.root, 'champion.zip');
    expect(spawnSync('sh', ['-c', `cd '${staging}' && python3 -m zipfile -c '${zip}' host.json dist`]).status).toBe(0);
    writeFileSync(join(s.root, 'bin', 'npm'), `#!/bin/sh\necho building\necho '${zip}'\n`);
    const r = s.run('package.sh');
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(s.root, '.deploy')).sort()).toEqual(['dist', 'host.json']);
  });

  it('fails when the last line is not an artefact with host.json', () => {
    const s = scratch({ npm: 'echo done' });
    expect(s.run('package.sh').stderr).toMatch(/did not end with the artefact's path/);
  });
});

describe('postdeploy and predown', () => {
  const OUT = {
    ...BASE,
    AZURE_FUNCTION_APP_NAME: 'func-champion-x',
    AZURE_EVENTGRID_SYSTEM_TOPIC: 'mlw-events',
    AZURE_WORKSPACE_ROLE_ASSIGNMENT_ID:
      '/subscriptions/s/resourceGroups/rg-ml/providers/Microsoft.Authorization/roleAssignments/a',
    AZURE_WORKSPACE_ROLE_DEFINITION_ID: '/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/r',
  };

  it('creates the subscriptions once the functions exist, with the same parameters file', () => {
    const s = scratch({
      az: '[ "$1 $2" = "functionapp function" ] && echo onModelRegistered && echo onDriftDetected; exit 0',
    });
    const r = s.run('postdeploy.sh', OUT);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("export DEPLOY_EVENT_SUBSCRIPTIONS='true'");
    expect(s.log().at(-1)).toMatch(/^az deployment group create -g rg-champion .*--parameters infra\/main\.bicepparam/);
  });

  it('removes the subscriptions, the topic it created, its roles and registration, and never the workspace', () => {
    const s = scratch();
    const r = s.run('predown.sh', {
      ...OUT,
      AZURE_EVENTGRID_SYSTEM_TOPIC_CREATED: 'true',
      CHAMPION_AUTH_APP_CREATED: 'true',
      CHAMPION_AUTH_CLIENT_ID: 'app-id',
    });
    expect(r.status, r.stderr).toBe(0);
    const calls = s.log();
    expect(calls.filter((c) => c.includes('event-subscription delete'))).toHaveLength(4);
    expect(calls).toContain('az eventgrid system-topic delete -g rg-ml -n mlw-events --yes');
    expect(calls).toContain(`az role assignment delete --ids ${OUT.AZURE_WORKSPACE_ROLE_ASSIGNMENT_ID}`);
    expect(calls).toContain('az role definition delete --name r --custom-role-only true');
    expect(calls).toContain('az ad app delete --id app-id');
    expect(calls.filter((c) => /\b(ml workspace|group) delete\b/.test(c))).toEqual([]);
  });

  it('keeps a system topic it did not create, and a custom role another environment still uses', () => {
    const s = scratch({ az: '[ "$1 $2 $3" = "role assignment list" ] && echo other-assignment; exit 0' });
    const r = s.run('predown.sh', OUT);
    expect(r.status, r.stderr).toBe(0);
    expect(s.log().some((c) => c.startsWith('az eventgrid system-topic delete'))).toBe(false);
    expect(s.log().some((c) => c.startsWith('az role definition delete'))).toBe(false);
  });
});
