/**
 * The embedded default on a QA → production policy of a test's own: the default forecast policy, without approvals,
 * with its production environment (and anything else) changed by `shape`.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { environmentsPolicy } from '../../local/start';
import { EmbeddedApp } from './embedded';
import { tempDir } from './processes';

type Base = ReturnType<typeof environmentsPolicy>;
type Environment = Base['environments'][number];

export async function startEnvironmentsApp(
  name: string,
  production: (prod: Environment) => Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<EmbeddedApp> {
  const file = path.join(tempDir(name), 'policies.json');
  const base = environmentsPolicy();
  const [qa, prod] = base.environments;
  const policy = { ...base, approval: { required: false }, ...extra, environments: [qa, production(prod!)] };
  writeFileSync(file, JSON.stringify({ policies: [policy] }));
  return EmbeddedApp.start({ provisioningMs: 50, args: ['--policies', file] });
}
