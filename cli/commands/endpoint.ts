import type { CommandSpec } from '../args';
import { fields, indent, orNone, table } from '../format';
import { printJson, println } from '../io';

/** Tags the app writes on the endpoint at each release (lib/activities.ts recordRelease). */
const GIT_COMMIT_TAG = 'git.commit';
const GIT_REPOSITORY_TAG = 'git.repository';

export const endpoint: CommandSpec = {
  name: 'endpoint',
  summary: "Show an endpoint's deployments, traffic and git commit",
  description:
    "Shows an online endpoint's deployments with their share of traffic, model and provisioning state, the\nmirrored traffic if any, and the git commit of the last release (its git.commit tag).",
  args: [{ name: 'NAME', description: 'the online endpoint name' }],
  options: [],
  examples: ['champion endpoint demand'],
  async run({ io, client, json, args }) {
    const e = await client.getEndpoint(args.NAME ?? '');
    if (json) {
      printJson(io, e);
      return 0;
    }
    const out = [`Endpoint ${e.name} (${e.provisioningState})`];
    out.push(
      e.deployments.length === 0
        ? '  (no deployments)'
        : indent(
            table(
              ['DEPLOYMENT', 'TRAFFIC', 'MODEL', 'STATE'],
              e.deployments.map((d) => [d.name, `${d.traffic}%`, orNone(d.model), d.provisioningState]),
            ),
          ),
    );
    const mirror = Object.entries(e.mirrorTraffic ?? {}).filter(([, percent]) => percent > 0);
    const rows: [string, string][] = [];
    if (mirror.length > 0) rows.push(['Mirror traffic', mirror.map(([name, pct]) => `${name} ${pct}%`).join(', ')]);
    rows.push(['Git commit', orNone(e.tags[GIT_COMMIT_TAG])]);
    const repository = e.tags[GIT_REPOSITORY_TAG];
    if (repository) rows.push(['Repository', repository]);
    out.push('', fields(rows));
    println(io.stdout, out.join('\n'));
    return 0;
  },
};
