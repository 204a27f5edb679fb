/** The README's first command runs the whole story on the embedded default; it must keep doing so. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/processes';

describe('champion demo', () => {
  it('tells the whole promotion story and every step happens as described', { timeout: 240_000 }, async () => {
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
    expect(code).toBe(0);
  });
});
