import type { CommandSpec } from '../args';
import { printJson, println } from '../io';

const WHAT = {
  pause: 'Pause a rollout: the bake clock stops where it is, traffic stays as it is',
  resume: 'Resume a paused rollout: the bake runs again for the time it had left',
  'promote-now': 'Promote now: the challenger takes 100 % at once, skipping the remaining steps and analysis',
  abort: 'Abort a rollout: all traffic back to the champion in one update; the challenger is unstaged',
} as const;

function control(action: keyof typeof WHAT): CommandSpec {
  return {
    name: action,
    summary: WHAT[action],
    description:
      `${WHAT[action]}.\n` +
      'Sent to the promotion while its rollout is in progress (a step, a bake or a pause); the promotion records who\n' +
      "asked and why in its timeline and result. Refused (exit 1) when the promotion's rollout is not in progress.",
    args: [{ name: 'ID', description: 'the promotion, e.g. promote:demand:2' }],
    options: [
      { name: 'reason', value: 'TEXT', required: true, description: 'why, recorded with the control' },
      { name: 'as', value: 'NAME', description: "off Azure, who asks (default: the app's local user)" },
    ],
    examples: [`champion ${action} promote:demand:2 --reason 'p99 latency doubled at 10 %'`],
    async run({ io, client, json, args, options }) {
      const sent = await client.controlRollout(args.ID ?? '', action, {
        reason: options.reason ?? '',
        ...(options.as !== undefined ? { by: options.as } : {}),
      });
      if (json) printJson(io, sent);
      else
        println(
          io.stdout,
          sent.taken
            ? `${action} taken by ${args.ID} (asked by ${sent.by})`
            : `${action} sent to ${args.ID} (asked by ${sent.by}); it is taken at the next bake`,
        );
      return 0;
    },
  };
}

export const pause = control('pause');
export const resume = control('resume');
export const promoteNow = control('promote-now');
export const abort = control('abort');
