// durable-functions builds the orchestrator handler with an internal helper (what df.app.orchestration registers);
// the benchmarks call it directly, as test/durable does, instead of going through the Functions host.
declare module 'durable-functions/lib/src/util/testingUtils' {
  import type { InvocationContext } from '@azure/functions';
  import type { OrchestrationHandler } from 'durable-functions';

  export function createOrchestrator(
    fn: OrchestrationHandler,
  ): (trigger: unknown, context: InvocationContext) => Promise<unknown>;
}
