/**
 * The CLI following promotions and retraining runs on the embedded default (`show --watch`, `promote --wait`,
 * `retrain --wait`, `retrainings`), run in process against the app's HTTP API; decisions go through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../local/lab';
import { runCli, startCli, type CliRun } from '../support/cli';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

/** The phases of the lines `[elapsed] phase  note`, each run of the same phase once. */
function phasesOf(out: string): string[] {
  const phases = [...out.matchAll(/^\[[\dd :]+\] (\S+)/gm)].map((m) => m[1]!);
  return phases.filter((phase, i) => phase !== phases[i - 1]);
}

describe('following on the embedded default', { timeout: 180_000 }, () => {
  let app: EmbeddedApp;
  let lab: Lab;
  let api: string;

  const decide = (id: string, decision: 'approve' | 'reject') =>
    fetch(`${api}/api/promotions/${encodeURIComponent(id)}/decisions`, {
      method: 'POST',
      body: JSON.stringify({ decision, approver: 'ana' }),
    });
  /** Waits until the CLI says it waits for approval, so the decision comes while it watches. */
  const waitingForApproval = (cli: { out: () => string }, id: string) =>
    eventually(async () => (cli.out().includes('waiting for approval') ? true : undefined), `${id} to wait`, 1200);

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 100 });
    api = app.url;
    lab = app.lab;
  }, 60_000);
  afterAll(async () => app?.stop());

  it('show --watch prints the phases in order while it waits for approval, then the outcome, exit 0', async () => {
    await lab.trainAndRegister({ name: 'demand', version: '1', seed: 11, quality: 0.6, as: 'dana' });
    await eventually(
      async () => ((await fetch(`${api}/api/promotions/promote%3Ademand%3A1`)).ok ? true : undefined),
      'the promotion of demand:1 to start',
      600,
    );
    const watch = startCli(api, 'show', 'promote:demand:1', '--watch');
    await waitingForApproval(watch, 'promote:demand:1');
    expect((await decide('promote:demand:1', 'approve')).status).toBe(202);
    const { code, out, err } = await watch.done;
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/^Following promotion promote:demand:1, started .*Ctrl-C stops watching/);
    expect(phasesOf(out)).toEqual([
      'preparing',
      'deploying',
      'testing',
      'evaluating',
      'evaluated',
      'awaiting-approval',
      'rolling-out',
      'done',
    ]);
    expect(out).toMatch(
      /… waiting for approval until \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(champion approve promote:demand:1/,
    );
    expect(out).toMatch(/\nPromotion promote:demand:1 promoted: .* \(after [\d:]+\)\.\n$/);
    expect(out).not.toContain('\r');
  });

  it('promote --wait starts a promotion and follows it; a rejection ends it with exit 4', async () => {
    // Registering starts the promotion too: --wait follows whichever start came first.
    await lab.trainAndRegister({ name: 'demand', version: '2', seed: 12, quality: 1, as: 'dana' });
    const wait = startCli(api, 'promote', 'demand', '2', '--wait');
    await waitingForApproval(wait, 'promote:demand:2');
    expect((await decide('promote:demand:2', 'reject')).status).toBe(202);
    const { code, out } = await wait.done;
    expect(out).toMatch(/^(Started promote:demand:2|promote:demand:2 already exists; following it\.)\n/);
    expect(out).toMatch(/\nPromotion promote:demand:2 rejected: .*\n$/);
    expect(code).toBe(4);
  });

  it('an unknown id is said plainly, exit 1', async () => {
    const { code, out, err } = await runCli(api, 'show', 'promote:demand:99', '--watch');
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toContain('No promotion "promote:demand:99".');
  });

  let retrained: CliRun;

  it('retrain --wait asks for a run and follows it to the registered version', async () => {
    await lab.admin('POST', 'data/generate', { name: 'demand-train', version: '1', rows: 1000, seed: 21 });
    retrained = await runCli(api, 'retrain', 'demand', '--reason', 'new labels arrived', '--wait');
    expect(retrained.err).toBe('');
    expect(retrained.code).toBe(0);
    const out = retrained.out;
    expect(out).toMatch(/^Started retraining retrain:demand:1 \(manual: /);
    expect(phasesOf(out)).toEqual(['environment', 'data-checks', 'training', 'registering', 'done']);
    expect(out).toMatch(/\nRetraining retrain:demand:1 registered: demand:3 registered from .* \(after [\d:]+\)\.\n/);
    expect(out).toMatch(/\nFollow its promotion with: champion show promote:demand:3 --watch\n$/);
  });

  it('retrainings lists the run with its outcome and the signal that started it', async () => {
    const { code, out } = await runCli(api, 'retrainings', '--model', 'demand');
    expect(code).toBe(0);
    expect(out).toMatch(/^ID\s+STATE\s+TRIGGER\s+VERSION\s+UPDATED\n/);
    expect(out).toMatch(/\nretrain:demand:1\s+registered\s+manual\s+3\s+\d{4}-/);
    expect(out).toContain('1 signal: 1 started a run.');
  });
});
