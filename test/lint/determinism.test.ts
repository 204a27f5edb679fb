import { ESLint } from 'eslint';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
const eslint = new ESLint({ cwd: root });

async function messagesFor(code: string, file = 'orchestrations/probe.ts'): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('orchestration determinism rule', () => {
  it.each([
    ['the clock', 'export const t = () => Date.now();', 'Date.now()'],
    ['a new Date()', 'export const t = () => new Date();', 'new Date()'],
    ['randomness', 'export const r = () => Math.random();', 'Math.random()'],
    ['the environment', 'export const e = () => process.env.X;', 'process'],
    ['a timer', 'export const s = () => setTimeout(() => 1, 1);', 'createTimer'],
    ['async code', 'export async function f() { return 1; }', 'async'],
    ['a Node built-in', "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;", 'Node built-ins'],
    ['a bare built-in', "import http from 'http';\nexport const h = http;", 'I/O'],
    [
      'an Azure SDK',
      "import { DefaultAzureCredential } from '@azure/identity';\nexport const c = DefaultAzureCredential;",
      'Azure',
    ],
    ['the local runtime', "import { x } from '../local/runtime/host';\nexport const y = x;", 'local runtime'],
  ])('reports %s', async (_name, code, expected) => {
    const messages = await messagesFor(code);
    expect(messages.join('\n')).toContain(expected);
  });

  it('accepts a generator that only yields durable tasks', async () => {
    const code = `
      import * as df from 'durable-functions';
      export function* flow(context: df.OrchestrationContext): Generator<df.Task, number, number> {
        const at = new Date(context.df.currentUtcDateTime.getTime() + 1000);
        yield context.df.createTimer(at);
        return yield context.df.callActivity('a', 1);
      }`;
    expect(await messagesFor(code)).toEqual([]);
  });

  it('leaves the same code alone outside orchestrations/', async () => {
    expect(await messagesFor('export const t = () => Date.now();', 'lib/probe.ts')).toEqual([]);
  });
});
