import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScoringFixture, type ScoringFixture } from '../../local/workspace/fixtures';

let f: ScoringFixture;

beforeAll(async () => {
  f = await startScoringFixture({ plainHttpScoring: true });
});

afterAll(async () => {
  await f.close();
});

function postPlain(url: string, key: string, body: unknown): Promise<{ status: number; deployment?: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      url,
      { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, deployment: res.headers['azureml-model-deployment'] as string }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('scoring fixture for benchmarks', () => {
  it('serves a 90/10 blue/green endpoint over https with its key', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const r = await f.client.score(f.scoringUri, f.key, f.sampleBody);
      expect(r.status).toBe(200);
      const d = String(r.headers['azureml-model-deployment']);
      counts[d] = (counts[d] ?? 0) + 1;
    }
    expect(counts).toEqual({ blue: 90, green: 10 });
  });

  it('serves the same endpoint over the optional plain-http listener, scoring only', async () => {
    expect(f.plainScoringUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/endpoints\/fixture-ep\/score$/);
    const ok = await postPlain(f.plainScoringUri!, f.key, f.sampleBody);
    expect(ok.status).toBe(200);
    expect(['blue', 'green']).toContain(ok.deployment);
    expect((await postPlain(f.plainScoringUri!, 'wrong', f.sampleBody)).status).toBe(401);
    const arm = await postPlain(f.plainScoringUri!.replace(/\/endpoints\/.*/, '/subscriptions/x'), f.key, {});
    expect(arm.status).toBe(404);
  });
});
