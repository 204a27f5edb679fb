/**
 * Timer triggers: NCRONTAB schedules, `runOnStartup`, and past-due detection across restarts. As in Azure, the
 * schedule status (last and next occurrence) is kept in storage; a restart that finds `next` already passed runs
 * the function once with `isPastDue: true`.
 */
import { one, openDatabase, type Database } from '../sqlite';
import { parseNcrontab, type Schedule } from './ncrontab';

export interface ScheduleStatus {
  last: string;
  next: string;
  lastUpdated: string;
}

export interface TimerInfo {
  Schedule: { AdjustForDST: boolean };
  ScheduleStatus: ScheduleStatus | null;
  IsPastDue: boolean;
}

export interface TimerFunction {
  name: string;
  schedule: string;
  runOnStartup: boolean;
  useMonitor: boolean;
}

export class ScheduleStatusStore {
  #db: Database;

  constructor(file: string) {
    this.#db = openDatabase(file, ['journal_mode = WAL']);
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS timer_status (name TEXT PRIMARY KEY, last TEXT NOT NULL, next TEXT NOT NULL, last_updated TEXT NOT NULL)',
    );
  }

  get(name: string): ScheduleStatus | undefined {
    const row = one<{ last: string; next: string; last_updated: string }>(
      this.#db.prepare('SELECT last, next, last_updated FROM timer_status WHERE name = ?'),
      name,
    );
    return row && { last: row.last, next: row.next, lastUpdated: row.last_updated };
  }

  put(name: string, status: ScheduleStatus): void {
    this.#db
      .prepare('INSERT OR REPLACE INTO timer_status (name, last, next, last_updated) VALUES (?, ?, ?, ?)')
      .run(name, status.last, status.next, status.lastUpdated);
  }

  close(): void {
    this.#db.close();
  }
}

/** Resolves `%SettingName%` schedules from app settings, as the host does. */
export function resolveSchedule(schedule: string, settings: Record<string, string | undefined>): string {
  const match = /^%(.+)%$/.exec(schedule.trim());
  if (!match) return schedule;
  const value = settings[match[1] as string];
  if (!value) throw new Error(`Timer schedule refers to app setting "${match[1]}", which is not set.`);
  return value;
}

export class TimerScheduler {
  #handle: NodeJS.Timeout | undefined;
  #stopped = false;
  #entries: { fn: TimerFunction; schedule: Schedule; next: Date }[] = [];
  #running = new Set<Promise<void>>();

  constructor(
    private readonly store: ScheduleStatusStore,
    private readonly fire: (name: string, info: TimerInfo) => Promise<void>,
    private readonly now: () => Date = () => new Date(),
    private readonly log: (line: string) => void = () => {},
  ) {}

  start(functions: TimerFunction[], settings: Record<string, string | undefined>): void {
    const now = this.now();
    for (const fn of functions) {
      const schedule = parseNcrontab(resolveSchedule(fn.schedule, settings));
      const status = fn.useMonitor ? this.store.get(fn.name) : undefined;
      const pastDue = status !== undefined && new Date(status.next).getTime() < now.getTime();
      const next = schedule.next(now);
      this.#entries.push({ fn, schedule, next });
      if (pastDue || fn.runOnStartup) {
        this.#run(fn, { last: status?.last ?? now.toISOString(), next: next.toISOString() }, pastDue, status ?? null);
      } else if (fn.useMonitor) {
        this.store.put(fn.name, {
          last: status?.last ?? now.toISOString(),
          next: next.toISOString(),
          lastUpdated: now.toISOString(),
        });
      }
    }
    this.#arm();
  }

  #run(fn: TimerFunction, status: { last: string; next: string }, isPastDue: boolean, previous: ScheduleStatus | null) {
    const now = this.now().toISOString();
    if (fn.useMonitor) this.store.put(fn.name, { ...status, lastUpdated: now });
    const info: TimerInfo = { Schedule: { AdjustForDST: true }, ScheduleStatus: previous, IsPastDue: isPastDue };
    const run = this.fire(fn.name, info).catch((err: unknown) => {
      this.log(`Timer ${fn.name} failed: ${err instanceof Error ? err.message : String(err)}`);
    });
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  #arm(): void {
    if (this.#stopped || this.#entries.length === 0) return;
    const soonest = Math.min(...this.#entries.map((e) => e.next.getTime()));
    // setTimeout overflows past 2^31 ms; wake up earlier and re-arm.
    const delay = Math.min(Math.max(soonest - this.now().getTime(), 0), 2 ** 30);
    this.#handle = setTimeout(() => this.#tick(), delay);
    this.#handle.unref?.();
  }

  #tick(): void {
    const now = this.now();
    for (const entry of this.#entries) {
      if (entry.next.getTime() > now.getTime()) continue;
      const due = entry.next;
      entry.next = entry.schedule.next(now);
      const previous = entry.fn.useMonitor ? (this.store.get(entry.fn.name) ?? null) : null;
      this.#run(entry.fn, { last: due.toISOString(), next: entry.next.toISOString() }, false, previous);
    }
    this.#arm();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#handle) clearTimeout(this.#handle);
    await Promise.allSettled([...this.#running]);
  }
}
