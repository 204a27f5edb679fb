import type { PromotionSummary } from '../api';
import type { CommandSpec } from '../args';
import { formatTime, NONE, table, truncate } from '../format';
import { printJson, println } from '../io';

/** "demand:3", from the status or the result; "—" before the orchestration first reports. */
export function modelOf(p: PromotionSummary): string {
  const source = p.status ?? p.result;
  return source ? `${source.modelName}:${source.modelVersion}` : NONE;
}

/**
 * Where a promotion is: its outcome once finished, its phase while running, otherwise the runtime status (a
 * promotion the runtime failed or terminated has no outcome).
 */
export function stateOf(p: PromotionSummary): string {
  if (p.result?.outcome) return p.result.outcome;
  if (p.runtimeStatus === 'Running' || p.runtimeStatus === 'Pending') return p.status?.phase ?? 'pending';
  return p.runtimeStatus.toLowerCase();
}

export const lastNote = (p: PromotionSummary): string => p.status?.timeline.at(-1)?.note ?? p.result?.reason ?? NONE;

export const promotions: CommandSpec = {
  name: 'promotions',
  summary: 'List promotions, newest first',
  description: 'Lists promotions, newest first: id, model version, phase (or outcome), last note and last update.',
  args: [],
  options: [{ name: 'model', value: 'M', description: 'only the promotions of model M' }],
  examples: ['champion promotions --model demand'],
  async run({ io, client, json, options }) {
    const list = await client.listPromotions({ model: options.model });
    if (json) {
      printJson(io, list);
      return 0;
    }
    if (list.length === 0) {
      println(io.stdout, options.model ? `No promotions for model ${options.model}.` : 'No promotions.');
      return 0;
    }
    const rows = list.map((p) => [
      p.id,
      modelOf(p),
      stateOf(p),
      truncate(lastNote(p), 60),
      formatTime(p.lastUpdatedTime),
    ]);
    println(io.stdout, table(['ID', 'MODEL', 'PHASE/OUTCOME', 'LAST NOTE', 'UPDATED'], rows));
    return 0;
  },
};
