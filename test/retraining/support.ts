/** The embedded default as a child process, read through its public surfaces, for the retraining end-to-end tests. */
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

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

export class App extends EmbeddedApp {
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
