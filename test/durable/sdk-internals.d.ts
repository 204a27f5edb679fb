// durable-functions builds orchestrator and entity handlers with internal helpers (what df.app.orchestration and
// df.app.entity register);
// the tests call it directly instead of going through the Functions host.
declare module 'durable-functions/lib/src/util/testingUtils' {
  import type { InvocationContext } from '@azure/functions';
  import type { EntityHandler, OrchestrationHandler } from 'durable-functions';

  export function createOrchestrator(
    fn: OrchestrationHandler,
  ): (trigger: unknown, context: InvocationContext) => Promise<unknown>;

  export function createEntityFunction<T = unknown>(
    fn: EntityHandler<T>,
  ): (trigger: unknown, context: InvocationContext) => Promise<unknown>;
}
