/** The embedded default (`dist/local/start.js`) as a child process on fixed ports, so it can be killed and restarted. */
import path from 'node:path';
import { Inbox } from '../../local/inbox';
import { Lab } from '../../local/lab';
import { freePort, startProcess, tempDir, type RunningProcess } from './processes';

export class EmbeddedApp {
  app!: RunningProcess;
  lab!: Lab;

  constructor(
    readonly dataDir: string,
    private readonly args: string[],
    private readonly env: Record<string, string> = {},
  ) {}

  /** Starts on a fresh data directory; `provisioningMs` is how long local deployments take to provision. */
  static async start<T extends EmbeddedApp>(
    this: new (dataDir: string, args: string[], env?: Record<string, string>) => T,
    options: { provisioningMs?: number; args?: string[]; dataDir?: string; env?: Record<string, string> } = {},
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
    const embedded = new this(dataDir, args, options.env);
    await embedded.boot();
    embedded.lab = new Lab(path.join(dataDir, 'workspace', 'workspace.json'));
    return embedded;
  }

  /** Where the app delivers approval links. */
  get inbox(): Inbox {
    return Inbox.of(this.dataDir);
  }

  get url(): string {
    return this.app.url;
  }

  async boot(): Promise<void> {
    this.app = await startProcess('dist/local/start.js', this.args, {
      env: this.env,
      ready: /Functions host listening on (http\S+)/,
    });
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
