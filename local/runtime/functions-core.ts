/**
 * A stand-in for `@azure/functions-core`, the virtual module the Azure Functions Node worker injects.
 *
 * `@azure/functions` sends every registration (app.http, app.eventGrid, df.app.orchestration, …) and every hook
 * to this module. Without it the library silently switches to "test mode" and drops them, and it caches that
 * decision at the first registration: so the stand-in must be installed before the app is loaded.
 */
import Module from 'node:module';

export type RpcTypedData = {
  string?: string;
  json?: string;
  bytes?: Uint8Array;
  http?: RpcHttpData;
  int?: number;
  double?: number;
};

export interface RpcHttpData {
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  params?: Record<string, string>;
  body?: RpcTypedData;
  statusCode?: string;
}

export interface RpcBindingInfo {
  type: string;
  direction: 'in' | 'out' | 'inout';
  name?: string;
  [option: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface RegisteredFunction {
  name: string;
  bindings: Record<string, RpcBindingInfo>;
  handler: FunctionCallback;
  /** Name of the trigger binding, e.g. "request" for HTTP or "context" for orchestrations. */
  triggerName: string;
  /** The trigger binding itself: `type` is e.g. "httpTrigger", "eventGridTrigger", "orchestrationTrigger". */
  trigger: RpcBindingInfo;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], handler: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<{ returnValue?: RpcTypedData | null; outputData?: unknown }>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: unknown): InvocationModel;
}

export type HookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';
export type HookCallback = (context: Record<string, unknown>) => unknown;

export type CoreLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
export type CoreLogger = (level: CoreLogLevel, category: 'user' | 'system', message: string) => void;

/** Everything the app registered through the core API. */
export class FunctionRegistry {
  readonly functions = new Map<string, RegisteredFunction>();
  readonly hooks = new Map<HookName, HookCallback[]>();
  programmingModel: ProgrammingModel | undefined;
  logger: CoreLogger = () => {};

  get(name: string): RegisteredFunction | undefined {
    // The host treats function names case-insensitively (Event Grid's functionName, durable activity names).
    return (
      this.functions.get(name) ?? [...this.functions.values()].find((f) => f.name.toLowerCase() === name.toLowerCase())
    );
  }

  byTriggerType(type: string): RegisteredFunction[] {
    return [...this.functions.values()].filter((f) => f.trigger.type === type);
  }

  hooksFor(name: HookName): HookCallback[] {
    return this.hooks.get(name) ?? [];
  }

  /** The object `require('@azure/functions-core')` returns inside the app. */
  coreApi(): object {
    return {
      version: 'champion-local',
      hostVersion: '4.0.0-local',
      setProgrammingModel: (model: ProgrammingModel) => {
        this.programmingModel = model;
      },
      getProgrammingModel: () => this.programmingModel,
      registerFunction: (metadata: FunctionMetadata, handler: FunctionCallback) => {
        if (this.get(metadata.name)) {
          throw new Error(`A function named "${metadata.name}" is already registered.`);
        }
        const entry = Object.entries(metadata.bindings).find(
          ([, b]) => b.direction === 'in' && /Trigger$/i.test(b.type),
        );
        if (!entry) throw new Error(`Function "${metadata.name}" has no trigger binding.`);
        const [triggerName, trigger] = entry;
        this.functions.set(metadata.name, {
          name: metadata.name,
          bindings: metadata.bindings,
          handler,
          triggerName,
          trigger,
        });
        return { dispose: () => this.functions.delete(metadata.name) };
      },
      registerHook: (name: HookName, callback: HookCallback) => {
        const list = this.hooks.get(name) ?? [];
        list.push(callback);
        this.hooks.set(name, list);
        return { dispose: () => list.splice(list.indexOf(callback), 1) };
      },
      log: (level: CoreLogLevel, category: 'user' | 'system', message: string) => this.logger(level, category, message),
    };
  }
}

type ModuleLoad = (request: string, parent: unknown, isMain: boolean) => unknown;
const moduleWithLoad = Module as unknown as { _load: ModuleLoad };
let active: FunctionRegistry | undefined;

/**
 * Installs the stand-in for this process and returns the registry it fills. One registry per process, as one
 * worker hosts one app; calling it again returns the same registry.
 */
export function installFunctionsCore(): FunctionRegistry {
  if (active) return active;
  const registry = new FunctionRegistry();
  const api = registry.coreApi();
  const originalLoad = moduleWithLoad._load;
  moduleWithLoad._load = function load(this: unknown, request, parent, isMain) {
    if (request === '@azure/functions-core') return api;
    return originalLoad.call(this, request, parent, isMain);
  };
  active = registry;
  return registry;
}
