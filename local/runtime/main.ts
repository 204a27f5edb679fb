/**
 * Runs any Functions app on the local host: `node dist/local/runtime/main.js --app-dir DIR [--port N] [--data-dir DIR]`.
 * The embedded default (`npm start`) uses the same host with the Champion app and the local workspace.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { replaySchema } from './durable/replay';
import { LocalFunctionsHost } from './host';
import { whenPortInUse } from './port-in-use';

const usage = `Usage: node dist/local/runtime/main.js [options]

Serves an Azure Functions (Node v4) app without the Functions host.

Options:
  --app-dir DIR    folder with the app's package.json and host.json (default: current folder)
  --port N         port to listen on (default: $FUNCTIONS_HTTP_PORT or 7071)
  --data-dir DIR   where durable state and timer status are kept (default: $CHAMPION_DATA_DIR or .data/runtime)
  --durable-schema V  OOProc replay schema the durable engine advertises: V1 to V4 (default V4)
  -h, --help       show this help`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'app-dir': { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'durable-schema': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = Number(values.port ?? process.env.FUNCTIONS_HTTP_PORT ?? 7071);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: "${values.port}" is not a port.`);
  const appDir = path.resolve(values['app-dir'] ?? '.');
  const dataDir = path.resolve(
    values['data-dir'] ?? process.env.CHAMPION_DATA_DIR ?? path.join(appDir, '.data', 'runtime'),
  );
  const schema = values['durable-schema'];
  const host = await LocalFunctionsHost.start({
    appDir,
    dataDir,
    port,
    ...(schema ? { durableSchema: replaySchema(schema, '--durable-schema') } : {}),
  }).catch(whenPortInUse(port, '--port'));
  console.log(`Functions host listening on ${host.url} (data in ${dataDir})`);
  for (const fn of host.describe()) console.log(`  ${fn.name} [${fn.trigger}] ${fn.url ?? ''}`);
  const stop = () => void host.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
