/** The embedded default as a child process, read through its public surfaces, for the retraining end-to-end tests. */
import net from 'node:net';
import path from 'node:path';
import { Lab } from '../../local/lab';
import { eventually, startProcess, tempDir, type RunningProcess } from '../support/processes';

export interface Trigger {
  id: string;
  source: string;
  decision?: { action: 'start' | 'skip'; reason: string; detail: string };
  runId?: string;
}

export interface Run {
  id: string;
  runtimeStatus: string;
  status?: { phase: string; jobName?: string; timeline: { phase: string; note: string }[] };
  result?: {
    outcome: string;
    reason: string;
    modelVersion?: string;
    promotionId?: string;
    environment?: { created: boolean; version: string };
    job?: { name: string; submitted: boolean; status: string; metrics?: Record<string, string> };
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export class App {
  app!: RunningProcess;
  lab!: Lab;
  private constructor(
    readonly dataDir: string,
    private readonly port: number,
    private readonly workspacePort: number,
    private readonly extraArgs: string[],
  ) {}

  static async start(extraArgs: string[] = [], dataDir = tempDir('retrain')): Promise<App> {
    const a = new App(dataDir, await freePort(), await freePort(), extraArgs);
    await a.boot();
    a.lab = new Lab(path.join(a.dataDir, 'workspace', 'workspace.json'));
    return a;
  }

  async boot(): Promise<void> {
    this.app = await startProcess(
      'dist/local/start.js',
      [
        '--data-dir',
        this.dataDir,
        '--port',
        String(this.port),
        '--workspace-port',
        String(this.workspacePort),
        '--provisioning-ms',
        '200',
        ...this.extraArgs,
      ],
      { ready: /Functions host listening on (http\S+)/ },
    );
  }

  get url(): string {
    return this.app.url;
  }

  async retrainings(): Promise<{ runs: Run[]; triggers: Trigger[] }> {
    return (await (await fetch(`${this.url}/api/retrainings?model=demand`)).json()) as {
      runs: Run[];
      triggers: Trigger[];
    };
  }

  async run(id: string): Promise<Run | undefined> {
    const res = await fetch(`${this.url}/api/retrainings/${encodeURIComponent(id)}`);
    return res.status === 200 ? ((await res.json()) as Run) : undefined;
  }

  until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
    return eventually(probe, what, 1200);
  }

  finished(id: string): Promise<Run> {
    return this.until(async () => {
      const r = await this.run(id);
      return r && r.runtimeStatus !== 'Running' && r.runtimeStatus !== 'Pending' ? r : undefined;
    }, `${id} to finish`);
  }

  /** Waits until `count` triggers have been decided by the guard. */
  decided(count: number): Promise<Trigger[]> {
    return this.until(async () => {
      const { triggers } = await this.retrainings();
      const done = triggers.filter((t) => t.decision);
      return done.length >= count ? done : undefined;
    }, `${count} decided triggers`);
  }
}
