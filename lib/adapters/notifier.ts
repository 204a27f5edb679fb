/**
 * Notifier port implementations: a Service Bus topic on Azure (subscribers e-mail or post the links), an outbox
 * folder for the local embedded default (one file per approver and promotion, readable by its owner only), and an
 * in-memory one for tests. Approval links carry tokens: they are delivered, never logged.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import type { ApprovalRequest, Notifier } from '../ports';

/** What the notifier needs of a Service Bus sender; the seam tests use, since no broker can run locally. */
export interface ApprovalMessageSender {
  sendMessages(messages: ServiceBusMessage[]): Promise<void>;
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
/** A reminder of the same request, before it expires (policy `approval.remindBefore`). */
export const APPROVAL_REMINDER_SUBJECT = 'approval-reminder';

/** The real sender: neither the client nor the sender connects until the first send. */
export function createServiceBusSender(target: ServiceBusTarget): ApprovalMessageSender {
  const client = new ServiceBusClient(target.fullyQualifiedNamespace, target.credential);
  const sender = client.createSender(target.topicName);
  return {
    sendMessages: (messages) => sender.sendMessages(messages),
    close: async () => {
      await sender.close();
      await client.close();
    },
  };
}

/** What one approver is sent: the request with their own links only. */
export interface ApproverMessage extends Omit<ApprovalRequest, 'links'> {
  approver?: string;
  approveUrl: string;
  rejectUrl: string;
}

export function approverMessages(request: ApprovalRequest): ApproverMessage[] {
  const { links, ...rest } = request;
  return links.map((link) => ({ ...rest, ...link }));
}

/** One message per approver; a subscription filters on the `approver` property to deliver it to them alone. */
export function approvalMessages(request: ApprovalRequest): ServiceBusMessage[] {
  return approverMessages(request).map((message) => ({
    body: message,
    contentType: 'application/json',
    subject: request.reminder ? APPROVAL_REMINDER_SUBJECT : APPROVAL_REQUESTED_SUBJECT,
    // Stable per promotion, approver and kind: with duplicate detection on the topic, a retried activity's resend is
    // dropped, and a reminder is not mistaken for the request's resend.
    messageId: `${request.promotionId}:approval${request.reminder ? '-reminder' : ''}${message.approver !== undefined ? `:${message.approver}` : ''}`,
    applicationProperties: {
      modelName: request.modelName,
      modelVersion: request.modelVersion,
      ...(message.approver !== undefined ? { approver: message.approver } : {}),
    },
  }));
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
    const messages = approvalMessages(request);
    if (messages.length > 0) await this.sender.sendMessages(messages);
  }

  close(): Promise<void> {
    this.closing ??= this.sender.close ? this.sender.close() : Promise.resolve();
    return this.closing;
  }
}

export interface MemoryNotifierOptions {
  /** Receives a one-line summary per request (never the links: they carry tokens). */
  log?: (line: string) => void;
  /** How many requests to keep; the oldest are dropped first. */
  capacity?: number;
}

export const DEFAULT_MEMORY_NOTIFIER_CAPACITY = 1000;

/** A log line for a request: who was asked, never the links. */
export function approvalSummary(request: ApprovalRequest, where = 'sent'): string {
  const approvers = request.links.map((link) => link.approver ?? 'any approver');
  return (
    `Approval ${request.reminder ? 'reminder' : 'requested'} for ${request.modelName} version ${request.modelVersion} ` +
    `(promotion ${request.promotionId}, expires ${request.expiresAt}): links ${where} to ` +
    `${approvers.length > 0 ? approvers.join(', ') : 'nobody (the policy lists no approver)'}`
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
    const reminder = request.reminder === true;
    if (this.kept.some((kept) => kept.promotionId === request.promotionId && (kept.reminder === true) === reminder))
      return;
    this.kept.push(structuredClone(request));
    if (this.kept.length > this.capacity) this.kept.splice(0, this.kept.length - this.capacity);
    this.log?.(approvalSummary(request, 'kept in memory'));
  }

  /** Oldest first; copies, so callers cannot change what was recorded. */
  requests(): ApprovalRequest[] {
    return this.kept.map((request) => structuredClone(request));
  }
}

/** The file an approver's message for a promotion is written to in an outbox folder. */
export function outboxFile(dir: string, promotionId: string, approver: string | undefined, reminder = false): string {
  const name = `${encodeURIComponent(promotionId)}${reminder ? '.reminder' : ''}.json`;
  return path.join(dir, encodeURIComponent(approver ?? 'any-approver'), name);
}

/**
 * The local stand-in for mail: each approver's message is written to `<dir>/<approver>/<promotion>.json`, readable
 * by its owner only. Writing again (a retried activity) replaces it with the same content.
 */
export class OutboxNotifier implements Notifier {
  constructor(
    private readonly dir: string,
    private readonly log?: (line: string) => void,
  ) {}

  async approvalRequested(request: ApprovalRequest): Promise<void> {
    for (const message of approverMessages(request)) {
      const file = outboxFile(this.dir, request.promotionId, message.approver, request.reminder === true);
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, JSON.stringify(message, null, 2) + '\n', { mode: 0o600 });
    }
    this.log?.(approvalSummary(request, `written to ${this.dir}`));
  }
}
