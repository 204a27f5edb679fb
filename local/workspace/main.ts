import { startWorkspace, type WorkspaceOptions } from './index';
import { faultSchema } from './faults';

export const USAGE = `Usage: node dist/local/workspace/main.js [options]

Runs a local Azure Machine Learning workspace (ARM api-version 2022-10-01 over https, online endpoint scoring,
command-job training, Event Grid delivery) and writes <data-dir>/workspace.json for clients.

Options:
  --data-dir DIR          state directory (cert, SQLite, artefacts, workspace.json); default .data/workspace
  --port N                https port; 0 picks a free one (default 0)
  --host HOST             bind address (default 127.0.0.1)
  --subscription ID       subscription id (default 00000000-0000-0000-0000-000000000000)
  --resource-group NAME   resource group (default champion-local)
  --workspace NAME        workspace name (default champion-ws)
  --also-serve NAME       serve another workspace of that name from the same host (its own ARM id); repeatable
  --registry NAME         serve an Azure ML registry of that name from the same host (its own ARM id); repeatable
  --location REGION       region in resource bodies (default westeurope)
  --provisioning-ms N     how long endpoints/deployments stay Creating (default 1000)
  --delete-ms N           how long endpoints/deployments stay Deleting (default half the provisioning time)
  --job-ms N              how long a command job runs (default 1000)
  --retry-after N         Retry-After seconds on long-running operations (default 1)
  --token TOKEN           fixed ARM bearer token of the app's identity (default: random, kept in the data directory)
  --user NAME             the local user, whose token is userToken in workspace.json (default: the OS user)
  --scoring-http-port N   also serve scoring (only) over plain http on this port (0 = any free port)
  --subscriber URL        Event Grid subscriber webhook; repeatable
  --event-types A,B       event types for the preceding --subscriber (short or full names)
  --fault JSON            fault to inject from the start, e.g. '{"kind":"provisioning","code":"OutOfQuota"}'; repeatable
  --quiet                 do not log activity
  --help                  show this help
`;

/** Parses CLI arguments into workspace options; throws with a message naming the bad argument. */
export function parseArgs(argv: string[]): WorkspaceOptions & { help?: boolean; quiet?: boolean } {
  const out: WorkspaceOptions & { help?: boolean; quiet?: boolean } = { dataDir: '.data/workspace' };
  const subscribers: { url: string; eventTypes?: string[] }[] = [];
  const faults: NonNullable<WorkspaceOptions['faults']> = [];
  const int = (flag: string, v: string | undefined, min = 0): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--help':
      case '-h':
        out.help = true;
        break;
      case '--quiet':
        out.quiet = true;
        break;
      case '--data-dir':
        out.dataDir = value();
        break;
      case '--port':
        out.port = int(flag, value());
        break;
      case '--host':
        out.host = value();
        break;
      case '--subscription':
        out.subscriptionId = value();
        break;
      case '--resource-group':
        out.resourceGroup = value();
        break;
      case '--workspace':
        out.workspaceName = value();
        break;
      case '--also-serve': {
        const name = value();
        if (!/^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$/.test(name)) {
          throw new Error(`--also-serve needs a workspace name (3-33 letters, digits, "-" or "_"), got '${name}'`);
        }
        out.workspaces = [...(out.workspaces ?? []), { workspaceName: name }];
        break;
      }
      case '--registry': {
        const name = value();
        if (!/^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$/.test(name)) {
          throw new Error(`--registry needs a registry name (3-33 letters, digits, "-" or "_"), got '${name}'`);
        }
        out.registries = [...(out.registries ?? []), { registryName: name }];
        break;
      }
      case '--location':
        out.location = value();
        break;
      case '--provisioning-ms':
        out.provisioningMs = int(flag, value());
        break;
      case '--delete-ms':
        out.deleteMs = int(flag, value());
        break;
      case '--job-ms':
        out.jobMs = int(flag, value(), 5);
        break;
      case '--retry-after':
        out.retryAfterSeconds = int(flag, value());
        break;
      case '--token':
        out.token = value();
        break;
      case '--user':
        out.user = value();
        break;
      case '--scoring-http-port':
        out.scoringHttpPort = int(flag, value());
        break;
      case '--subscriber': {
        const url = value();
        if (!/^https?:\/\//.test(url)) throw new Error(`--subscriber needs an http(s) URL, got '${url}'`);
        subscribers.push({ url });
        break;
      }
      case '--event-types': {
        const last = subscribers[subscribers.length - 1];
        if (!last) throw new Error('--event-types must follow a --subscriber');
        last.eventTypes = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        break;
      }
      case '--fault': {
        const raw = value();
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw);
        } catch {
          throw new Error(`--fault needs JSON, got '${raw}'`);
        }
        const r = faultSchema.safeParse(parsed);
        if (!r.success) {
          const issue = r.error.issues[0]!;
          throw new Error(`--fault: ${issue.path.join('.') || 'value'}: ${issue.message}`);
        }
        faults.push(r.data);
        break;
      }
      default:
        throw new Error(`unknown argument '${arg}'`);
    }
  }
  if (subscribers.length > 0) out.eventSubscribers = subscribers;
  if (faults.length > 0) out.faults = faults;
  return out;
}

export async function main(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parseArgs>;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { help: _help, quiet, ...options } = opts;
  const ws = await startWorkspace({
    ...options,
    log: quiet ? undefined : (line) => process.stdout.write(`[workspace] ${line}\n`),
  });
  process.stdout.write(`ARM endpoint: ${ws.armEndpoint}\nworkspace.json: ${ws.workspaceJsonPath}\n`);
  if (ws.scoringHttpEndpoint)
    process.stdout.write(`plain-http scoring: ${ws.scoringHttpEndpoint}/endpoints/{name}/score\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void ws.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}

if (typeof require !== 'undefined' && require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
