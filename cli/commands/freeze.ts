import type { CommandSpec } from '../args';
import type { FreezeView } from '../../lib/freezes';
import { printJson, println, type Writer } from '../io';

/** One line per freeze that holds, then the policy's windows. */
function printFreezes(out: Writer, view: FreezeView): void {
  const { inForce, frozen } = view;
  println(
    out,
    inForce.frozen
      ? `${view.modelName}: releases frozen ${inForce.until ? `until ${inForce.until}` : 'until lifted'} (${inForce.source === 'policy' ? `policy freezes[${inForce.window}]` : `by ${inForce.by}`}): ${inForce.reason}`
      : `${view.modelName}: releases are not frozen`,
  );
  if (frozen && !(inForce.frozen && inForce.source === 'request'))
    println(out, `  frozen by ${frozen.by} since ${frozen.at}: ${frozen.reason}`);
  for (const [i, w] of view.windows.entries())
    println(out, `  policy freezes[${i}]: ${w.from} → ${w.until}${w.active ? ' (now)' : ''}: ${w.reason}`);
}

export const freeze: CommandSpec = {
  name: 'freeze',
  summary: "Freeze a model's releases, or show its freezes",
  description:
    "With --reason, freezes the model's releases until --until (ISO 8601 with a zone) or until `champion unfreeze`:\n" +
    'a promotion that reaches its release meanwhile waits, saying why in its status and timeline, and releases when\n' +
    "the freeze ends. Rollbacks are never frozen. Without --reason, shows the freezes: the policy's `freezes` windows\n" +
    'and a freeze a person asked for. Who asked and why are recorded.',
  args: [{ name: 'MODEL', description: 'the model name, e.g. demand' }],
  options: [
    { name: 'reason', value: 'TEXT', description: 'why; without it, the freezes are shown' },
    { name: 'until', value: 'TIME', description: 'when the freeze ends by itself, e.g. 2026-11-30T06:00:00Z' },
    { name: 'as', value: 'NAME', description: "off Azure, who asks (default: the app's local user)" },
  ],
  examples: ["champion freeze demand --reason 'Black Friday' --until 2026-11-30T06:00:00Z", 'champion freeze demand'],
  async run({ io, client, json, args, options }) {
    const model = args.MODEL ?? '';
    const view =
      options.reason === undefined
        ? await client.getFreeze(model)
        : await client.freeze(model, {
            reason: options.reason,
            ...(options.until !== undefined ? { until: options.until } : {}),
            ...(options.as !== undefined ? { by: options.as } : {}),
          });
    if (json) printJson(io, view);
    else printFreezes(io.stdout, view);
    return 0;
  },
};

export const unfreeze: CommandSpec = {
  name: 'unfreeze',
  summary: "Lift the freeze a person put on a model's releases",
  description:
    'Lifts the freeze asked for with `champion freeze`: promotions waiting at their release look again at once and\n' +
    "release unless the policy's own `freezes` windows still hold. Refused (exit 1) when no such freeze holds. Who\n" +
    'lifted it and why are recorded.',
  args: [{ name: 'MODEL', description: 'the model name, e.g. demand' }],
  options: [
    { name: 'reason', value: 'TEXT', required: true, description: 'why, recorded with the lift' },
    { name: 'as', value: 'NAME', description: "off Azure, who asks (default: the app's local user)" },
  ],
  examples: ["champion unfreeze demand --reason 'sale over'"],
  async run({ io, client, json, args, options }) {
    const lifted = await client.unfreeze(args.MODEL ?? '', {
      reason: options.reason ?? '',
      ...(options.as !== undefined ? { by: options.as } : {}),
    });
    if (json) printJson(io, lifted);
    else {
      printFreezes(io.stdout, lifted);
      println(
        io.stdout,
        `woke ${lifted.woke.length} waiting promotion(s)${lifted.woke.length ? `: ${lifted.woke.join(', ')}` : ''}`,
      );
    }
    return 0;
  },
};
