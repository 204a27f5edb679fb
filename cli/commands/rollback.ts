import { setTimeout as sleep } from 'node:timers/promises';
import type { CommandSpec } from '../args';
import { printJson, println } from '../io';

/** How often the CLI looks at a rollback it started, and for how long. */
const POLL_MS = 500;
const WAIT_MS = 15 * 60_000;

export const rollback: CommandSpec = {
  name: 'rollback',
  summary: 'Put the previous production version of a model back',
  description:
    "Sends all of the model's traffic back to the previous production version, which Champion keeps deployed at\n" +
    "0 % in the endpoint's other slot after a release: one traffic update, no new analysis. Tags follow traffic (the\n" +
    "previous version is production again, the current one surpassed). It runs under the model's lock, so it waits\n" +
    'for a promotion that is moving traffic. Refused (exit 1, with the reason) when the other slot holds no earlier\n' +
    'production version (a newer challenger took it, or it was removed). Who asked and why are recorded. For a\n' +
    'policy with environments, --environment rolls back that one (its endpoint, the tags in its workspace).',
  args: [{ name: 'MODEL', description: 'the model name, e.g. demand' }],
  options: [
    { name: 'reason', value: 'TEXT', required: true, description: 'why, recorded with the rollback' },
    {
      name: 'environment',
      value: 'NAME',
      description: "for a policy with environments, which one's endpoint (default: the first)",
    },
    { name: 'as', value: 'NAME', description: "off Azure, who asks (default: the app's local user)" },
  ],
  examples: [
    "champion rollback demand --reason 'error rate doubled after the 14:00 release'",
    "champion rollback forecast --environment prod --reason 'late answers in production'",
  ],
  async run({ io, client, json, args, options }) {
    const started = await client.rollback(args.MODEL ?? '', {
      reason: options.reason ?? '',
      ...(options.as !== undefined ? { by: options.as } : {}),
      ...(options.environment !== undefined ? { environment: options.environment } : {}),
    });
    if (!json) println(io.stdout, `Started ${started.id}; waiting for it to finish…`);
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const view = await client.getRollback(started.id);
      const result = view.result;
      if (result) {
        if (json) printJson(io, view);
        else println(io.stdout, `${result.outcome}: ${result.reason}`);
        return result.outcome === 'rolled-back' ? 0 : 1;
      }
      if (!['Pending', 'Running'].includes(view.runtimeStatus)) {
        println(io.stderr, `${started.id} ended ${view.runtimeStatus} without a result.`);
        return 1;
      }
      if (Date.now() > deadline) {
        println(
          io.stdout,
          `${started.id} is still ${view.status?.phase ?? view.runtimeStatus}; see GET ${started.statusUrl}`,
        );
        return 1;
      }
      await sleep(POLL_MS);
    }
  },
};
