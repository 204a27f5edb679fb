/** The README's first command runs the whole story on the embedded default; it must keep doing so. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/processes';

describe('champion demo', () => {
  it('tells the whole promotion story and every step happens as described', { timeout: 480_000 }, async () => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin/champion.js'), 'demo'], { cwd: repoRoot });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(out).toContain('Every step happened as described.');
    expect(out).not.toContain('✘');
    // node:sqlite's one-time experimental warning is not the user's business (local/sqlite.ts drops it).
    expect(out).not.toContain('ExperimentalWarning');
    expect(out).toMatch(/v1 is staged and waits for a person/);
    expect(out).toMatch(/v4: a newer winner \(promote:demand:5\) replaced this staged version/);
    expect(out).toMatch(/✔ every deployment on demand-ep serves an MLflow model/);
    expect(out).toMatch(/✔ pricing:2 rolled back automatically at its first step \(step 1 Fail\): .*error rate/);
    expect(out).toMatch(/✔ pricing:3 promoted after its judged steps \(step 1 Pass, step 2 Pass\)/);
    expect(out).toMatch(/✔ pricing:1 production again, pricing:3 surpassed/);
    // QA → production with two local workspaces: the production copy points back to QA; a rejected gate stops there.
    expect(out).toMatch(
      /✔ the production copy points back to QA: workspace=\/subscriptions\/.*\/workspaces\/champion-ws/,
    );
    expect(out).toMatch(
      /✔ it came through the registry: azureml:\/\/registries\/champion-registry\/models\/forecast\/versions\/1,/,
    );
    expect(out).toMatch(/✔ forecast-prod in champion-prod serves forecast:1/);
    expect(out).toMatch(/✔ promote:forecast:2: prod gate rejected by bo/);
    expect(out).toMatch(/✔ nothing of forecast:2 was registered or deployed in production/);
    // A dry run after the demo: a plan across both workspaces, and no write in either (or in the registry).
    expect(out).toMatch(/✔ the plan: forecast:2 serves QA already \(promote:forecast:2@qa\)/);
    expect(out).toMatch(
      /✔ the copy it would make: POST registries\/champion-registry\/models\/forecast\/versions\/2\/startPendingUpload, PUT registries\/.*, PUT workspaces\/champion-prod\/models\/forecast\/versions\/2$/m,
    );
    expect(out).toMatch(/✔ no write while it ran: 0 in champion-ws \(and the registry\), 0 in champion-prod/);
    expect(code).toBe(0);
  });
});
