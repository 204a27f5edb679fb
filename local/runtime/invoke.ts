/**
 * Invokes a registered function the way the Node worker does: through the library's own ProgrammingModel, so
 * handlers receive real HttpRequest / InvocationContext objects and return values are converted by the library.
 */
import { randomUUID } from 'node:crypto';
import type { CoreLogLevel, FunctionRegistry, RegisteredFunction, RpcTypedData } from './functions-core';

export interface InputBinding {
  name: string;
  data: RpcTypedData | undefined;
}

export interface InvocationResult {
  invocationId: string;
  returnValue: RpcTypedData | null | undefined;
  /** The handler's value before the library converted it for the host (durable replies are read from it). */
  rawResult: unknown;
}

export type InvocationLogger = (fn: string, invocationId: string, level: CoreLogLevel, message: string) => void;

export async function invokeFunction(
  registry: FunctionRegistry,
  fn: RegisteredFunction,
  inputData: InputBinding[],
  options: { triggerMetadata?: Record<string, RpcTypedData>; log?: InvocationLogger } = {},
): Promise<InvocationResult> {
  const model = registry.programmingModel;
  if (!model) throw new Error('The app did not set a programming model: was @azure/functions loaded?');
  const invocationId = randomUUID();
  const coreCtx = {
    invocationId,
    state: undefined as string | undefined,
    metadata: { name: fn.name, bindings: fn.bindings },
    request: { invocationId, functionId: fn.name, inputData, triggerMetadata: options.triggerMetadata ?? {} },
    log: (level: CoreLogLevel, _category: string, message: string) =>
      options.log?.(fn.name, invocationId, level, message),
  };
  const invocation = model.getInvocationModel(coreCtx);
  const { context, inputs } = await invocation.getArguments();

  const hookData: Record<string, unknown> = {};
  const pre = { hookData, invocationContext: context, inputs, functionCallback: fn.handler };
  coreCtx.state = 'preInvocationHooks';
  for (const hook of registry.hooksFor('preInvocation')) await hook(pre);

  coreCtx.state = 'invocation';
  let result: unknown;
  let error: unknown;
  try {
    result = await invocation.invokeFunction(context, pre.inputs, pre.functionCallback);
  } catch (err) {
    error = err;
  }

  const post = { hookData, invocationContext: context, inputs: pre.inputs, result, error };
  coreCtx.state = 'postInvocationHooks';
  for (const hook of registry.hooksFor('postInvocation')) await hook(post);
  if (post.error) throw post.error;

  const response = await invocation.getResponse(context, post.result);
  return { invocationId, returnValue: response.returnValue, rawResult: post.result };
}

/** Reads a non-HTTP function's return value back into a plain value. */
export function fromTypedData(data: RpcTypedData | null | undefined): unknown {
  if (!data) return undefined;
  if (data.json !== undefined) return JSON.parse(data.json);
  if (data.string !== undefined) {
    try {
      return JSON.parse(data.string);
    } catch {
      return data.string;
    }
  }
  if (data.bytes !== undefined) return Buffer.from(data.bytes);
  return data.int ?? data.double;
}

export function jsonData(value: unknown): RpcTypedData | undefined {
  return value === undefined ? undefined : { json: JSON.stringify(value) };
}
