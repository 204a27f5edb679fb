import type { CommandSpec } from '../args';
import { printJson, println } from '../io';

export const retry: CommandSpec = {
  name: 'retry',
  summary: 'Try a failed promotion again',
  description:
    'Starts a new attempt of a promotion that failed (a smoke test, a deployment, a traffic update), whose\n' +
    "approval timed out, or that was stopped, under the model's current policy. The earlier attempts and their\n" +
    'history are kept. A promotion that is running, or that ended with an answer (promoted, lost its evaluation,\n' +
    'rejected, superseded), is never restarted: the app refuses and says why. Across environments, those an\n' +
    'earlier attempt promoted the version in and where it still serves are left as they are.',
  args: [{ name: 'ID', description: 'the promotion id (any attempt of the version), e.g. promote:demand:3' }],
  options: [],
  examples: ['champion retry promote:demand:3'],
  async run({ io, client, json, args }) {
    const retried = await client.retryPromotion(args.ID ?? '');
    if (json) {
      printJson(io, retried);
      return 0;
    }
    println(io.stdout, `Started ${retried.id} (attempt ${retried.attempt}, after ${retried.retryOf})`);
    for (const c of retried.carried ?? []) {
      println(io.stdout, `Serves ${c.environment} already (promoted by ${c.promotionId}): nothing is done there.`);
    }
    println(io.stdout, `Follow it with: champion show ${retried.id}`);
    return 0;
  },
};
