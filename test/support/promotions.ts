/** A running app's promotions and endpoints, read through its HTTP API and polled as the e2e suites need them. */
import type { PromotionResult, PromotionStatus } from '../../orchestrations/contract';
import { eventually } from './processes';

export interface Promotion {
  runtimeStatus: string;
  status?: PromotionStatus;
  result?: PromotionResult;
}

export interface EndpointView {
  traffic: Record<string, number>;
  deployments: { name: string; model: string | null }[];
}

export const finished = (p: Promotion): boolean => p.runtimeStatus !== 'Running' && p.runtimeStatus !== 'Pending';

/** `url` is read at each call, so the app may start after this is made (in a beforeAll). */
export function promotionsOf(url: () => string, tries = 1200) {
  const promotion = async (id: string): Promise<Promotion | undefined> => {
    const res = await fetch(`${url()}/api/promotions/${encodeURIComponent(id)}`).catch(() => undefined);
    return res?.status === 200 ? ((await res.json()) as Promotion) : undefined;
  };
  /** The promotion once `ok` holds for it, polled up to `tries` times. */
  const until = (id: string, ok: (p: Promotion) => boolean, what: string) =>
    eventually(
      async () => {
        const p = await promotion(id);
        return p && ok(p) ? p : undefined;
      },
      what,
      tries,
    );
  const endpoint = async (name = 'demand-ep'): Promise<EndpointView> =>
    (await (await fetch(`${url()}/api/endpoints/${name}`)).json()) as EndpointView;
  return { promotion, until, endpoint };
}
