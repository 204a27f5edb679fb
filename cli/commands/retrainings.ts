import type { RetrainingList, RetrainingRunView } from '../api';
import type { CommandSpec } from '../args';
import { formatTime, NONE, orNone, table } from '../format';
import { printJson, println } from '../io';
import { hasEnded } from '../watch';

/** Where a run is: its outcome once finished, its phase while running, otherwise the runtime status. */
export function runState(run: RetrainingRunView): string {
  if (run.result?.outcome) return run.result.outcome;
  if (!hasEnded(run.runtimeStatus)) return run.status?.phase ?? 'pending';
  return run.runtimeStatus.toLowerCase();
}

/** "3 signals: 1 started a run, 2 skipped (single-flight 1, cooldown 1)." */
export function signalsSummary(list: RetrainingList): string | undefined {
  const signals = list.triggers;
  if (signals.length === 0) return undefined;
  const started = signals.filter((s) => s.decision?.action === 'start').length;
  const skipped = new Map<string, number>();
  for (const s of signals) {
    if (s.decision?.action === 'skip') skipped.set(s.decision.reason, (skipped.get(s.decision.reason) ?? 0) + 1);
  }
  const skippedCount = [...skipped.values()].reduce((a, b) => a + b, 0);
  const undecided = signals.length - started - skippedCount;
  const parts = [`${started} started a run`];
  if (skippedCount > 0) {
    parts.push(`${skippedCount} skipped (${[...skipped].map(([reason, n]) => `${reason} ${n}`).join(', ')})`);
  }
  if (undecided > 0) parts.push(`${undecided} waiting for the guard`);
  return `${signals.length} signal${signals.length === 1 ? '' : 's'}: ${parts.join(', ')}.`;
}

export const retrainings: CommandSpec = {
  name: 'retrainings',
  summary: 'List retraining runs, newest first',
  description:
    'Lists retraining runs, newest first: id, phase (or outcome), what triggered it (drift-v1, drift-v2, timer,\n' +
    "manual), the model version it registered and the last update; then how many signals the model's guard\n" +
    'received and why it skipped those it did not act on (--json gives each signal).',
  args: [],
  options: [{ name: 'model', value: 'M', description: 'only the runs and signals of model M' }],
  examples: ['champion retrainings --model demand'],
  async run({ io, client, json, options }) {
    const list = await client.listRetrainings({ model: options.model });
    if (json) {
      printJson(io, list);
      return 0;
    }
    if (list.runs.length === 0) {
      println(io.stdout, options.model ? `No retraining runs for model ${options.model}.` : 'No retraining runs.');
    } else {
      const rows = list.runs.map((r) => [
        r.id,
        runState(r),
        r.trigger?.source ?? NONE,
        orNone(r.result?.modelVersion),
        formatTime(r.lastUpdatedTime),
      ]);
      println(io.stdout, table(['ID', 'STATE', 'TRIGGER', 'VERSION', 'UPDATED'], rows));
    }
    const signals = signalsSummary(list);
    if (signals) println(io.stdout, `\n${signals}`);
    return 0;
  },
};
