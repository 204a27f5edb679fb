/**
 * Operators' surfaces across environments on the embedded default (QA, the app's workspace, and production beside it):
 * forecast v1 then v2 promoted through QA and production; a rollback addresses the environment it names (production's
 * endpoint and registry, QA left as it is); bad environment names are refused naming the field, changing nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVIRONMENTS_MODEL, PROD_WORKSPACE } from '../../local/start';
import type { PromotionResult, PromotionStatus, RollbackResult } from '../../orchestrations/contract';
import { runCli } from '../support/cli';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

interface Instance<S, R> {
  runtimeStatus: string;
  status?: S;
  result?: R;
}

describe('operating a model across QA and production', { timeout: 300_000 }, () => {
  let app: EmbeddedApp;
  const model = ENVIRONMENTS_MODEL;

  const read = async <S, R>(path: string): Promise<Instance<S, R> | undefined> => {
    const res = await fetch(`${app.url}${path}`);
    return res.status === 200 ? ((await res.json()) as Instance<S, R>) : undefined;
  };
  const promotion = (id: string) => read<PromotionStatus, PromotionResult>(`/api/promotions/${encodeURIComponent(id)}`);
  const until = <T>(what: string, look: () => Promise<T | undefined>) => eventually(look, what, 1800);
  const waiting = (id: string) =>
    until(`${id} to wait for a decision`, async () => {
      const p = await promotion(id);
      return p?.status?.phase === 'awaiting-approval' ? p : undefined;
    });
  const approve = async (id: string, approver: string) => {
    const res = await runCli(app.url, 'approve', id, '--as', approver);
    expect(res.code, res.err).toBe(0);
  };
  /** Registers a version and takes it through QA and the production gate. */
  const promoteThroughProduction = async (version: string, seed: number, quality: number) => {
    await app.lab.trainAndRegister({ name: model, version, seed, quality, as: 'dana', outputToDatastore: true });
    const parent = `promote:${model}:${version}`;
    await waiting(`${parent}@qa`);
    await approve(`${parent}@qa`, 'ana');
    await waiting(parent);
    await approve(parent, 'bo');
    const done = await until(`${parent} to finish`, async () => {
      const p = await promotion(parent);
      return p && p.runtimeStatus !== 'Running' && p.runtimeStatus !== 'Pending' ? p : undefined;
    });
    expect(done.result?.outcome, JSON.stringify(done.result)).toBe('promoted');
  };
  /** The model version an endpoint of a workspace serves at 100 %. */
  const serving = async (workspace: 'qa' | 'prod') => {
    const ws = workspace === 'prod' ? app.lab.inWorkspace(PROD_WORKSPACE) : app.lab.workspace;
    const endpointName = workspace === 'prod' ? 'forecast-prod' : 'forecast-qa';
    const endpoint = await ws.getEndpoint(endpointName);
    const slot = Object.entries(endpoint?.traffic ?? {}).find(([, pct]) => pct === 100)?.[0];
    const deployment = slot ? await ws.getDeployment(endpointName, slot) : undefined;
    return /\/versions\/(\w+)$/.exec(deployment?.modelId ?? '')?.[1];
  };
  /** ARM writes either workspace received (the local workspace's request log). */
  const writes = async () => {
    let count = 0;
    for (const workspace of ['', `&workspace=${PROD_WORKSPACE}`]) {
      const log = (await app.lab.admin('GET', `requests?method=WRITE${workspace}`)) as { value: unknown[] };
      count += log.value.length;
    }
    return count;
  };

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 50 });
  }, 60_000);
  afterAll(async () => app?.stop());

  it('promotes v1 then v2 through QA and production', async () => {
    // v2 clearly better, so production (which reuses QA's evidence and asks nobody) releases it without a person.
    await promoteThroughProduction('1', 5, 0.6);
    await promoteThroughProduction('2', 6, 1);
    expect(await serving('qa')).toBe('2');
    expect(await serving('prod')).toBe('2');
  });

  it('refuses a rollback naming no such environment, or naming one for a model without environments, with a 400 naming the field', async () => {
    const before = await writes();
    const post = (name: string, body: unknown) =>
      fetch(`${app.url}/api/models/${name}/rollback`, { method: 'POST', body: JSON.stringify(body) });
    const cases: [string, unknown, RegExp][] = [
      [
        model,
        { reason: 'x', environment: 'staging' },
        /^environment: "staging" is not one of forecast's environments \(qa, prod\)/,
      ],
      [model, { reason: 'x', environment: 7 }, /^environment: must be a non-empty string/],
      [model, { reason: 'x', environment: '' }, /^environment: must be a non-empty string/],
      [
        'demand',
        { reason: 'x', environment: 'prod' },
        /^environment: "prod": the policy of demand names no environments/,
      ],
    ];
    for (const [name, body, message] of cases) {
      const res = await post(name, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    }
    const cli = await runCli(app.url, 'rollback', model, '--environment', 'staging', '--reason', 'x');
    expect(cli.code).not.toBe(0);
    expect(cli.err).toMatch(/environment: "staging" is not one of forecast's environments \(qa, prod\)/);
    expect(await writes()).toBe(before);
    expect(await serving('prod')).toBe('2');
  });

  it("rolls back the environment it names: production's endpoint and tags, QA left as it is", async () => {
    const prod = app.lab.inWorkspace(PROD_WORKSPACE);
    const res = await runCli(
      app.url,
      'rollback',
      model,
      '--environment',
      'prod',
      '--reason',
      'late answers in production',
      '--as',
      'oncall',
      '--json',
    );
    expect(res.code, res.out + res.err).toBe(0);
    const view = JSON.parse(res.out) as { result: RollbackResult };
    expect(view.result).toMatchObject({ outcome: 'rolled-back', environment: 'prod' });
    expect(view.result.to?.model).toBe(`${model}:1`);
    expect(await serving('prod')).toBe('1');
    expect((await prod.getModelVersion(model, '1'))?.tags.stage).toBe('production');
    expect((await prod.getModelVersion(model, '2'))?.tags.stage).toBe('surpassed');
    // QA still serves v2, tagged as it was.
    expect(await serving('qa')).toBe('2');
    expect((await app.lab.workspace.getModelVersion(model, '2'))?.tags.stage).toBe('production');
    expect((await app.lab.workspace.getModelVersion(model, '1'))?.tags.stage).toBe('surpassed');
  });
});
