import type { CommandSpec } from '../args';
import { indent, NONE, orNone, table } from '../format';
import { printJson, println } from '../io';

/** The tag the app writes on a version with the promotion that staged or promoted it (lib/activities.ts). */
const PROMOTION_TAG = 'champion.promotion';

export const models: CommandSpec = {
  name: 'models',
  summary: "List a model's versions and their stage",
  description: `Lists a registered model's versions with their stage (${NONE} when a version has none) and the promotion that last tagged it.`,
  args: [{ name: 'NAME', description: 'the registered model name' }],
  options: [],
  examples: ['champion models demand'],
  async run({ io, client, json, args }) {
    const model = await client.getModel(args.NAME ?? '');
    if (json) {
      printJson(io, model);
      return 0;
    }
    const rows = model.versions.map((v) => [v.version, orNone(v.stage), orNone(v.tags[PROMOTION_TAG])]);
    println(io.stdout, `Model ${model.name}`);
    println(io.stdout, indent(table(['VERSION', 'STAGE', 'PROMOTION'], rows)));
    return 0;
  },
};
