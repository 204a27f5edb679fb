/**
 * A child process for the load suite: one durable engine on a file-backed store (production pragmas), serving the
 * Durable HTTP API as the local host does, with one orchestration in the shape of a promotion's approval wait (a
 * decision event raced with a timeout timer). Started again on the same data directory, it shows what a restart
 * costs with every instance parked.
 *
 * Usage: node dist/bench/parked-host.js DATA_DIR. Prints `listening PORT` once it serves, then `idle` once the
 * engine has resumed everything the store holds; the parent reads its resident memory from /proc.
 */
import { InvocationContext } from '@azure/functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { createOrchestrator } from 'durable-functions/lib/src/util/testingUtils';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DurableEngine } from '../local/runtime/durable/engine';
import { handleDurableHttp } from '../local/runtime/durable/http-api';
import type { OrchestratorHandler } from '../local/runtime/durable/replay';
import { DurableStore } from '../local/runtime/durable/store';

export const PARKED_ORCHESTRATION = 'approvalWait';
export const DECISION_EVENT = 'decision';
const TIMEOUT_HOURS = 24;

/** The approval wait of promoteModel, reduced to its durable shape: the decision or the timeout, whichever first. */
function* approvalWait(context: OrchestrationContext): Generator<unknown, unknown, unknown> {
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + TIMEOUT_HOURS * 3_600_000);
  const timeout = context.df.createTimer(deadline);
  const decision = context.df.waitForExternalEvent(DECISION_EVENT);
  const first = yield context.df.Task.any([decision, timeout]);
  if (first !== decision) return { decision: 'timed-out' };
  timeout.cancel();
  return decision.result;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function main(dataDir: string): void {
  const handler = createOrchestrator(approvalWait as OrchestrationHandler) as OrchestratorHandler;
  let invocation = 0;
  const store = new DurableStore(join(dataDir, 'durable.db'));
  const engine = new DurableEngine({
    store,
    taskHub: 'LoadHub',
    invokeOrchestrator: (name, trigger) =>
      handler(trigger, new InvocationContext({ functionName: name, invocationId: `inv-${++invocation}` })),
    invokeActivity: () => Promise.reject(new Error('no activities here')),
    isOrchestrator: (name) => name === PARKED_ORCHESTRATION,
    isActivity: () => false,
    log: () => {},
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    readBody(req)
      .then((body) =>
        handleDurableHttp(engine, {
          method: req.method ?? 'GET',
          path: url.pathname.replace(/^\/runtime\/webhooks\/durabletask\//, ''),
          query: url.searchParams,
          body,
          origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          headers: req.headers,
        }),
      )
      .then((reply) => {
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
      })
      .catch((err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      });
  });
  server.listen(0, '127.0.0.1', () => {
    engine.start();
    process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
    void engine.whenIdle().then(() => process.stdout.write('idle\n'));
  });
  process.on('SIGTERM', () => {
    server.close();
    void engine.stop().then(() => {
      store.close();
      process.exit(0);
    });
  });
}

if (require.main === module) main(process.argv[2] ?? '.');
