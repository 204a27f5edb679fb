/**
 * Benchmark entry: `npm run bench` (all suites) or `node dist/bench/run.js [runtime] [scoring]`.
 * Prints one table per suite (figure, goal, met) and a summary. Figures are informative: the exit code is 0 unless
 * a suite crashes, whatever the timings.
 */
import { availableParallelism } from 'node:os';
import { fmt, printSuite, type SuiteResult } from './report';

const SUITES: Record<string, { about: string; run: () => Promise<SuiteResult> }> = {
  runtime: {
    about: 'durable engine: HelloCities5 events/s and latency on durable SQLite, raw commit rate, replay µs/event',
    // Loaded on demand: --help works, and a suite whose code does not load fails alone.
    run: async () => (await import('./runtime.js')).runRuntimeSuite(),
  },
  scoring: {
    about: 'local workspace scoring (https 90/10, plain http) against bare node:http / node:https servers',
    run: async () => (await import('./scoring.js')).runScoringSuite(),
  },
  load: {
    about:
      '10,000 instances parked in the approval wait (memory, paged list p99, restart → ready, nothing lost); ' +
      '1,000 promotions at once across 50 models',
    run: async () => (await import('./load.js')).runLoadSuite(),
  },
  promotion: {
    about: 'embedded default: ModelRegistered → decision, approval → traffic, ARM writes per rollout',
    run: async () => (await import('./promotion.js')).runPromotionSuite(),
  },
};

const HELP = `Usage: node dist/bench/run.js [suite...] [--help]

Runs the Champion benchmarks and prints, per suite, each figure next to its goal.
Suites (default: all, in this order):
${Object.entries(SUITES)
  .map(([name, s]) => `  ${name.padEnd(10)} ${s.about}`)
  .join('\n')}

Figures are measured side by side in one run; missed goals are reported, never fatal (exit 0 unless a suite
crashes). Progress lines go to stderr, tables to stdout. Takes about five minutes on 2 cores (promotion ≈ 10 s, load ≈ 3 min).
Environment: BENCH_CLIENT_THREADS=N splits the scoring client over N worker threads (default 1).`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const unknown = argv.filter((a) => !(a in SUITES));
  if (unknown.length > 0) {
    console.error(`Unknown suite or option: ${unknown.join(', ')}\n\n${HELP}`);
    return 2;
  }
  const names = argv.length > 0 ? Object.keys(SUITES).filter((n) => argv.includes(n)) : Object.keys(SUITES);
  console.log(
    `Champion benchmarks: node ${process.version}, ${process.platform}/${process.arch}, ` +
      `${availableParallelism()} cores`,
  );
  const results: SuiteResult[] = [];
  let crashed = 0;
  for (const name of names) {
    process.stderr.write(`running ${name}…\n`);
    try {
      const result = await SUITES[name]!.run();
      results.push(result);
      printSuite(result);
    } catch (err) {
      crashed++;
      console.error(`\n== ${name}: CRASHED\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  console.log('\n== summary');
  for (const r of results) {
    const goals = r.rows.filter((row) => row.met !== undefined);
    const met = goals.filter((row) => row.met).length;
    const missed = goals.filter((row) => !row.met).map((row) => row.metric);
    console.log(
      `${r.name.padEnd(16)} ${met}/${goals.length} goals met in ${fmt(r.seconds, 1)} s` +
        (missed.length > 0 ? `; missed: ${missed.join('; ')}` : ''),
    );
  }
  if (crashed > 0) console.log(`${crashed} suite(s) crashed`);
  return crashed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
