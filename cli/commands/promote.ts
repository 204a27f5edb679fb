import type { CommandSpec } from '../args';
import { versionProblem } from '../../lib/domain/versions';
import { printJson, println } from '../io';

export const promote: CommandSpec = {
  name: 'promote',
  summary: 'Start a promotion by hand',
  description:
    'Starts the promotion of a registered model version by hand, as the registration event would: evaluate it\nagainst the champion, stage it, wait for approval, roll it out. One promotion per model version; a\nfailed one is tried again with: champion retry ID.',
  args: [
    { name: 'MODEL', description: 'the registered model name (a promotion policy must cover it)' },
    {
      name: 'VERSION',
      description: 'the model version, exactly as Azure ML names it (it must be registered)',
      check: versionProblem,
    },
  ],
  options: [{ name: 'as', value: 'NAME', description: 'who registered the model (they may not approve it)' }],
  examples: ['champion promote demand 3 --as bob@contoso.com'],
  async run({ io, client, json, args, options }) {
    const started = await client.startPromotion({
      modelName: args.MODEL ?? '',
      modelVersion: args.VERSION ?? '',
      ...(options.as !== undefined ? { registeredBy: options.as } : {}),
    });
    if (json) {
      printJson(io, started);
      return 0;
    }
    println(io.stdout, `Started ${started.id}`);
    println(io.stdout, `Status: ${started.statusUrl}`);
    println(io.stdout, `Follow it with: champion show ${started.id}`);
    return 0;
  },
};
