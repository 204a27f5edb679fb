/** What `show --watch`, `promote --wait` and `retrain --wait` share: following a promotion or a run to its end. */
import { ApiError, type ChampionApi, type RetrainingRunView, type RetrainingSignalView } from '../api';
import type { CliIo } from '../io';
import {
  follow,
  INTERRUPTED_EXIT_CODE,
  PROMOTION_EXIT_CODES,
  promotionSnapshot,
  RETRAINING_EXIT_CODES,
  retrainingSnapshot,
  RUNTIME_FAILED_EXIT_CODE,
} from '../watch';

/** [code, the outcomes that end with it], for --help. */
function exitCodeHelp(codes: Record<string, number>): [string, string][] {
  const byCode = new Map<number, string[]>();
  for (const [outcome, code] of Object.entries(codes)) byCode.set(code, [...(byCode.get(code) ?? []), outcome]);
  const rows: [number, string][] = [...byCode].map(([code, outcomes]) => [
    code,
    `ended ${outcomes.join(', ')}${code === RUNTIME_FAILED_EXIT_CODE ? ', or the runtime failed or stopped it' : ''}`,
  ]);
  rows.push([INTERRUPTED_EXIT_CODE, 'Ctrl-C stopped watching (nothing was changed)']);
  return rows.sort(([a], [b]) => a - b).map(([code, text]): [string, string] => [String(code), text]);
}

export const PROMOTION_EXIT_CODE_HELP = exitCodeHelp(PROMOTION_EXIT_CODES);

export const RETRAINING_EXIT_CODE_HELP = exitCodeHelp(RETRAINING_EXIT_CODES);

export function followPromotion(io: CliIo, client: ChampionApi, id: string): Promise<number> {
  return follow(io, {
    subject: `promotion ${id}`,
    carriesOn: 'the promotion',
    read: async () => promotionSnapshot(await client.getPromotion(id)),
  });
}

/** Polls during which a run the guard just started may not be there yet (404). */
const RUN_START_POLLS = 20;

/** `justStarted`: the guard named the run a moment ago, so its orchestration may not exist yet. */
export function followRetraining(
  io: CliIo,
  client: ChampionApi,
  runId: string,
  options: { justStarted?: boolean } = {},
): Promise<number> {
  let missing = 0;
  const askedAt = new Date().toISOString();
  return follow(io, {
    subject: `retraining ${runId}`,
    carriesOn: 'the run',
    read: async () => {
      let view: RetrainingRunView | RetrainingSignalView;
      try {
        view = await client.getRetraining(runId);
      } catch (err) {
        const notYet = options.justStarted && err instanceof ApiError && err.status === 404;
        if (!notYet || ++missing > RUN_START_POLLS) throw err;
        return { createdTime: askedAt, entries: [], firstIndex: 0, waitingFor: 'the run to start' };
      }
      if (view.kind !== 'run') throw new ApiError(400, `${runId} is a retraining signal, not a run.`);
      return retrainingSnapshot(view);
    },
  });
}
