import type { CommandSpec } from '../args';
import { fields, orNone } from '../format';
import { printJson, println } from '../io';

export const health: CommandSpec = {
  name: 'health',
  summary: 'Check that the app is up',
  description: 'Checks that the app answers, and shows the models it has promotion policies for and its git commit.',
  args: [],
  options: [],
  examples: ['champion health --url https://champion.example.net'],
  async run({ io, client, json }) {
    const h = await client.health();
    if (json) {
      printJson(io, h);
      return 0;
    }
    println(io.stdout, `Champion at ${client.baseUrl}: ${h.status}`);
    println(
      io.stdout,
      fields([
        ['Models', h.models.length > 0 ? h.models.join(', ') : '(no policies)'],
        ['Git commit', orNone(h.gitCommit)],
      ]),
    );
    return h.status === 'ok' ? 0 : 1;
  },
};
