/** Typed errors so the HTTP layer can map them to the status codes the real extension uses. */
export class DurableEngineError extends Error {
  constructor(
    message: string,
    readonly httpStatus: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** startNew with an id whose instance is still Pending/Running/Suspended. */
export class InstanceExistsError extends DurableEngineError {
  constructor(
    readonly instanceId: string,
    status: string,
  ) {
    super(`An orchestration instance with ID '${instanceId}' already exists and is ${status}.`, 409);
  }
}

export class InstanceNotFoundError extends DurableEngineError {
  constructor(readonly instanceId: string) {
    super(`No instance with ID '${instanceId}' found.`, 404);
  }
}

/** The instance exists but has reached a terminal state, so it accepts no more events or commands. */
export class InstanceGoneError extends DurableEngineError {
  constructor(
    readonly instanceId: string,
    status: string,
  ) {
    super(`The orchestration instance '${instanceId}' is ${status} and cannot accept this operation.`, 410);
  }
}

export class UnknownFunctionError extends DurableEngineError {
  constructor(
    readonly functionName: string,
    kind: 'orchestrator' | 'activity' | 'entity',
  ) {
    super(`The function '${functionName}' doesn't exist, is disabled, or is not an ${kind} function.`, 400);
  }
}

export class InvalidOperationError extends DurableEngineError {
  constructor(message: string, httpStatus = 412) {
    super(message, httpStatus);
  }
}

export class EngineStoppedError extends DurableEngineError {
  constructor() {
    super('The durable engine is stopped.', 503);
  }
}

/** Thrown by test fault hooks to emulate a process crash at a chosen point. */
export class SimulatedCrash extends Error {
  constructor(readonly point: string) {
    super(`simulated crash at ${point}`);
    this.name = 'SimulatedCrash';
  }
}
