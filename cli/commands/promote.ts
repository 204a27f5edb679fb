import { ApiError } from '../api';
import { commandHelp, UsageError, type CommandSpec } from '../args';
import { versionProblem } from '../../lib/domain/versions';
import { printJson, println } from '../io';
import { followPromotion, PROMOTION_EXIT_CODE_HELP } from './follow';
import { promotionPlanLines } from './plan';

/** The id in a 409 answer to a start: the version's promotion already exists. */
function existingId(err: unknown): string | undefined {
  if (!(err instanceof ApiError) || err.status !== 409) return undefined;
  const id = (err.body as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : undefined;
}

export const promote: CommandSpec = {
  name: 'promote',
  summary: 'Start a promotion by hand',
  description:
    'Starts the promotion of a registered model version by hand, as the registration event would: evaluate it\nagainst the champion, stage it, wait for approval, roll it out. One promotion per model version; a\nfailed one is tried again with: champion retry ID.\n' +
    "With --wait, follows it to its end as 'champion show ID --watch' does (also when the version's promotion\n" +
    'already exists, started by its registration), and the exit code says how it ended.',
  args: [
    { name: 'MODEL', description: 'the registered model name (a promotion policy must cover it)' },
    {
      name: 'VERSION',
      description: 'the model version, exactly as Azure ML names it (it must be registered)',
      check: versionProblem,
    },
  ],
  options: [
    { name: 'wait', short: 'w', description: 'then follow the promotion until it ends (see the exit codes)' },
    {
      name: 'dry-run',
      description:
        'change nothing: print the plan (slot, evaluation, tags, approvals, traffic, ARM writes; by environment)',
    },
  ],
  exitCodes: PROMOTION_EXIT_CODE_HELP,
  exitCodesWhen: 'with --wait',
  examples: ['champion promote demand 3', 'champion promote demand 3 --wait', 'champion promote demand 3 --dry-run'],
  async run({ io, client, json, args, flags }) {
    if (flags.wait && json) {
      throw new UsageError('--wait prints lines as they come; it cannot be combined with --json', commandHelp(promote));
    }
    const request = { modelName: args.MODEL ?? '', modelVersion: args.VERSION ?? '' };
    if (flags['dry-run']) {
      if (flags.wait) throw new UsageError('--dry-run starts nothing to wait for', commandHelp(promote));
      const preview = await client.dryRunPromotion(request);
      if (json) printJson(io, preview);
      else for (const line of promotionPlanLines(preview)) println(io.stdout, line);
      return 0;
    }
    if (flags.wait) {
      let id: string;
      try {
        id = (await client.startPromotion(request)).id;
        println(io.stdout, `Started ${id}`);
      } catch (err) {
        const existing = existingId(err);
        if (existing === undefined) throw err;
        id = existing;
        println(io.stdout, `${id} already exists; following it.`);
      }
      return followPromotion(io, client, id);
    }
    const started = await client.startPromotion(request);
    if (json) {
      printJson(io, started);
      return 0;
    }
    println(io.stdout, `Started ${started.id}`);
    println(io.stdout, `Status: ${started.statusUrl}`);
    println(io.stdout, `Follow it with: champion show ${started.id} --watch`);
    return 0;
  },
};
