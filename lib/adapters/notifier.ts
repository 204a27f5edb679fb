/**
 * Notifier port implementations: a Service Bus topic on Azure (subscribers e-mail or post the links), and an
 * in-memory one for the local embedded runtime and tests.
 */
import type { TokenCredential } from '@azure/core-auth';
import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import type { ApprovalRequest, Notifier } from '../ports';

/** What the notifier needs of a Service Bus sender; the seam tests use, since no broker can run locally. */
export interface ApprovalMessageSender {
  sendMessages(message: ServiceBusMessage): Promise<void>;
  close?(): Promise<void>;
}

export interface ServiceBusTarget {
  /** e.g. `champion-sb.servicebus.windows.net`. */
  fullyQualifiedNamespace: string;
  topicName: string;
  credential: TokenCredential;
}

export interface ServiceBusNotifierOptions extends ServiceBusTarget {
  createSender?: (target: ServiceBusTarget) => ApprovalMessageSender;
}

export const APPROVAL_REQUESTED_SUBJECT = 'approval-requested';

/** The real sender: neither the client nor the sender connects until the first send. */
export function createServiceBusSender(target: ServiceBusTarget): ApprovalMessageSender {
  const client = new ServiceBusClient(target.fullyQualifiedNamespace, target.credential);
  const sender = client.createSender(target.topicName);
  return {
    sendMessages: (message) => sender.sendMessages(message),
    close: async () => {
      await sender.close();
      await client.close();
    },
  };
}

export function approvalMessage(request: ApprovalRequest): ServiceBusMessage {
  return {
    body: { ...request },
    contentType: 'application/json',
    subject: APPROVAL_REQUESTED_SUBJECT,
    // Stable per promotion: with duplicate detection on the topic, a retried activity's resend is dropped.
    messageId: `${request.promotionId}:approval`,
    applicationProperties: { modelName: request.modelName, modelVersion: request.modelVersion },
  };
}

export class ServiceBusNotifier implements Notifier {
  private readonly sender: ApprovalMessageSender;
  private closing: Promise<void> | undefined;

  constructor(options: ServiceBusNotifierOptions) {
    const { createSender = createServiceBusSender, ...target } = options;
    this.sender = createSender(target);
  }

  async approvalRequested(request: ApprovalRequest): Promise<void> {
    if (this.closing) throw new Error('ServiceBusNotifier is closed');
    // Errors propagate: the activity fails and its retry policy resends (deduplicated by messageId).
    await this.sender.sendMessages(approvalMessage(request));
  }

  close(): Promise<void> {
    this.closing ??= this.sender.close ? this.sender.close() : Promise.resolve();
    return this.closing;
  }
}

export interface MemoryNotifierOptions {
  /** Receives a one-line summary per request, with both links, so a local user can click them. */
  log?: (line: string) => void;
  /** How many requests to keep; the oldest are dropped first. */
  capacity?: number;
}

export const DEFAULT_MEMORY_NOTIFIER_CAPACITY = 1000;

export function approvalSummary(request: ApprovalRequest): string {
  return (
    `Approval requested for ${request.modelName} version ${request.modelVersion} ` +
    `(promotion ${request.promotionId}, expires ${request.expiresAt}): ` +
    `approve ${request.approveUrl} | reject ${request.rejectUrl}`
  );
}

export class MemoryNotifier implements Notifier {
  private readonly kept: ApprovalRequest[] = [];
  private readonly log: ((line: string) => void) | undefined;
  private readonly capacity: number;

  constructor(options: MemoryNotifierOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_MEMORY_NOTIFIER_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
    this.log = options.log;
  }

  async approvalRequested(request: ApprovalRequest): Promise<void> {
    // Like Service Bus duplicate detection: a retried activity does not notify twice for the same promotion.
    if (this.kept.some((kept) => kept.promotionId === request.promotionId)) return;
    this.kept.push({ ...request });
    if (this.kept.length > this.capacity) this.kept.splice(0, this.kept.length - this.capacity);
    this.log?.(approvalSummary(request));
  }

  /** Oldest first; copies, so callers cannot change what was recorded. */
  requests(): ApprovalRequest[] {
    return this.kept.map((request) => ({ ...request }));
  }
}
