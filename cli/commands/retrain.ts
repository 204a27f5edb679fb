import { ApiError, type StartedRetraining } from '../api';
import { commandHelp, UsageError, type CommandSpec } from '../args';
import { printJson, println } from '../io';
import { pause } from '../watch';
import { followRetraining, RETRAINING_EXIT_CODE_HELP } from './follow';
import { retrainingPlanLines } from './plan';

/** The reason sent when none is given: the API wants one, so every run says why it started. */
const DEFAULT_REASON = 'requested from the command line';

/** How long --wait waits for the guard to answer a signal the app answered before the guard did. */
const GUARD_POLLS = 60;
const GUARD_POLL_MS = 1000;

/** The run a 409 names when the guard skipped because one is already running. */
function runningRun(err: unknown): string | undefined {
  if (!(err instanceof ApiError) || err.status !== 409) return undefined;
  const body = err.body as { runId?: unknown; decision?: { reason?: unknown } } | undefined;
  return body?.decision?.reason === 'single-flight' && typeof body.runId === 'string' ? body.runId : undefined;
}

export const retrain: CommandSpec = {
  name: 'retrain',
  summary: 'Ask for a retraining run of a model',
  description:
    "Asks the model's retraining guard for a run, as a drift signal or the schedule would. The guard lets one\n" +
    'run at a time and honours the cooldown: a skip is refused with its reason (exit 1). A registered model\n' +
    'starts its promotion on its own.\n' +
    'With --wait, follows the run (also the one already running, when that is why it was skipped) to its end:\n' +
    'one line per step with the time since it started, and what it waits for now.',
  args: [{ name: 'MODEL', description: 'the model (its policy must have a retraining section)' }],
  options: [
    {
      name: 'reason',
      value: 'TEXT',
      description: `why retrain now, recorded with the run (default: '${DEFAULT_REASON}')`,
    },
    { name: 'as', value: 'NAME', description: 'off Azure, who asks (on Azure, your signed-in identity)' },
    { name: 'wait', short: 'w', description: 'then follow the run until it ends (see the exit codes)' },
    {
      name: 'dry-run',
      description: "change nothing: print the plan (guard's answer, data checks, hashes, job body, ARM writes)",
    },
  ],
  exitCodes: [
    ...RETRAINING_EXIT_CODE_HELP,
    ['1', 'the guard skipped it (with its reason), the app answered an error, or could not be reached'],
  ],
  exitCodesWhen: 'with --wait',
  examples: ["champion retrain demand --reason 'new labels arrived' --wait", 'champion retrain demand --dry-run'],
  async run({ io, client, json, args, options, flags }) {
    if (flags.wait && json) {
      throw new UsageError('--wait prints lines as they come; it cannot be combined with --json', commandHelp(retrain));
    }
    const modelName = args.MODEL ?? '';
    if (flags['dry-run']) {
      if (flags.wait) throw new UsageError('--dry-run starts nothing to wait for', commandHelp(retrain));
      const plan = await client.dryRunRetraining({
        modelName,
        reason: options.reason ?? DEFAULT_REASON,
        ...(options.as !== undefined ? { requestedBy: options.as } : {}),
      });
      if (json) printJson(io, plan);
      else for (const line of retrainingPlanLines(plan)) println(io.stdout, line);
      return 0;
    }
    let started: StartedRetraining;
    try {
      started = await client.startRetraining({
        modelName,
        reason: options.reason ?? DEFAULT_REASON,
        ...(options.as !== undefined ? { requestedBy: options.as } : {}),
      });
    } catch (err) {
      const running = flags.wait ? runningRun(err) : undefined;
      if (running === undefined) throw err;
      println(io.stdout, `${(err as ApiError).message}; following ${running}.`);
      return followRetraining(io, client, running);
    }
    if (json) {
      printJson(io, started);
      return 0;
    }
    let { runId, decision } = started;
    // The app answers once the guard decided, or after a few seconds without it: then ask the signal.
    for (let poll = 0; flags.wait && !decision && poll < GUARD_POLLS; poll++) {
      await pause(io, GUARD_POLL_MS);
      const signal = await client.getRetraining(started.id);
      if (signal.kind === 'trigger') ({ runId, decision } = signal);
    }
    if (!decision || !runId) {
      println(io.stdout, `Sent ${started.id}; the guard has not decided yet.`);
      println(io.stdout, `See what it decided with: champion retrainings --model ${modelName}`);
      return flags.wait ? 1 : 0;
    }
    if (decision.action === 'skip') {
      println(io.stderr, `champion: skipped: ${decision.detail}`);
      return 1;
    }
    println(io.stdout, `Started retraining ${runId} (${decision.reason}: ${decision.detail})`);
    if (!flags.wait) {
      println(io.stdout, `See how it goes with: champion retrainings --model ${modelName}`);
      return 0;
    }
    return followRetraining(io, client, runId, { justStarted: true });
  },
};
