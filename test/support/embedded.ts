/** The embedded default (`dist/local/start.js`) as a child process on fixed ports, so it can be killed and restarted. */
import path from 'node:path';
import { Lab } from '../../local/lab';
import { freePort, startProcess, tempDir, type RunningProcess } from './processes';

export class EmbeddedApp {
  app!: RunningProcess;
  lab!: Lab;

  constructor(
    readonly dataDir: string,
    private readonly args: string[],
  ) {}

  /** Starts on a fresh data directory; `provisioningMs` is how long local deployments take to provision. */
  static async start<T extends EmbeddedApp>(
    this: new (dataDir: string, args: string[]) => T,
    options: { provisioningMs?: number; args?: string[]; dataDir?: string } = {},
  ): Promise<T> {
    const dataDir = options.dataDir ?? tempDir('embedded');
    const args = [
      '--data-dir',
      dataDir,
      '--port',
      String(await freePort()),
      '--workspace-port',
      String(await freePort()),
      '--provisioning-ms',
      String(options.provisioningMs ?? 200),
      ...(options.args ?? []),
    ];
    const embedded = new this(dataDir, args);
    await embedded.boot();
    embedded.lab = new Lab(path.join(dataDir, 'workspace', 'workspace.json'));
    return embedded;
  }

  get url(): string {
    return this.app.url;
  }

  async boot(): Promise<void> {
    this.app = await startProcess('dist/local/start.js', this.args, { ready: /Functions host listening on (http\S+)/ });
  }

  /** kill -9, then start again on the same data directory and ports. */
  async crashAndRestart(): Promise<void> {
    await this.app.kill9();
    await this.boot();
  }

  stop(): Promise<void> {
    return this.app.stop();
  }
}
