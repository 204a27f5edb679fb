import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { ServiceBusMessage } from '@azure/service-bus';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ApprovalMessageSender,
  type ServiceBusTarget,
  MemoryNotifier,
  OutboxNotifier,
  outboxFile,
  ServiceBusNotifier,
} from '../../lib/adapters/notifier';
import { Inbox } from '../../local/inbox';
import type { ApprovalRequest } from '../../lib/ports';

// The CommonJS module objects the AMQP library calls into, so spies see any connection attempt.
const nodeRequire = createRequire(__filename);
const net = nodeRequire('node:net') as typeof import('node:net');
const tls = nodeRequire('node:tls') as typeof import('node:tls');
const dns = nodeRequire('node:dns') as typeof import('node:dns');

function request(promotionId: string, overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    promotionId,
    modelName: 'churn',
    modelVersion: '7',
    evidenceSummary: 'AUC 0.91 vs 0.88 on 5,000 rows',
    links: [
      {
        approver: 'ana@contoso.com',
        approveUrl: `https://champion.example.net/api/promotions/${promotionId}/decision#token=a.b`,
        rejectUrl: `https://champion.example.net/api/promotions/${promotionId}/decision#token=c.d`,
      },
      {
        approver: 'bo@contoso.com',
        approveUrl: `https://champion.example.net/api/promotions/${promotionId}/decision#token=e.f`,
        rejectUrl: `https://champion.example.net/api/promotions/${promotionId}/decision#token=g.h`,
      },
    ],
    expiresAt: '2030-01-02T00:00:00.000Z',
    ...overrides,
  };
}

function fakeCredential() {
  const getToken = vi.fn(async (): Promise<AccessToken> => ({ token: 't', expiresOnTimestamp: 0 }));
  const credential: TokenCredential = { getToken };
  return { credential, getToken };
}

function fakeSender() {
  const sent: ServiceBusMessage[] = [];
  const sender = {
    sendMessages: vi.fn(async (messages: ServiceBusMessage[]) => {
      sent.push(...messages);
    }),
    close: vi.fn(async () => {}),
  } satisfies ApprovalMessageSender;
  return { sender, sent };
}

const target = (credential: TokenCredential): ServiceBusTarget => ({
  fullyQualifiedNamespace: 'champion-test.servicebus.windows.net',
  topicName: 'approvals',
  credential,
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('ServiceBusNotifier', () => {
  it('creates its sender for the namespace and topic it was given', () => {
    const { credential } = fakeCredential();
    const { sender } = fakeSender();
    const createSender = vi.fn(() => sender);
    new ServiceBusNotifier({ ...target(credential), createSender });
    expect(createSender).toHaveBeenCalledExactlyOnceWith(target(credential));
  });

  it('publishes one JSON message per approver, with their links only, in one send', async () => {
    const { credential } = fakeCredential();
    const { sender, sent } = fakeSender();
    const notifier = new ServiceBusNotifier({ ...target(credential), createSender: () => sender });
    const approval = request('churn-7-1');
    const { links, ...rest } = approval;

    await notifier.approvalRequested(approval);

    expect(sender.sendMessages).toHaveBeenCalledTimes(1);
    expect(sent).toEqual(
      links.map((link) => ({
        body: { ...rest, ...link },
        contentType: 'application/json',
        subject: 'approval-requested',
        messageId: `churn-7-1:approval:${link.approver}`,
        applicationProperties: { modelName: 'churn', modelVersion: '7', approver: link.approver },
      })),
    );
    expect(JSON.stringify(sent[0]?.body)).not.toContain('e.f');
  });

  it('sends a reminder as its own message per approver (its own subject and id), with the same links', async () => {
    const { credential } = fakeCredential();
    const { sender, sent } = fakeSender();
    const notifier = new ServiceBusNotifier({ ...target(credential), createSender: () => sender });
    await notifier.approvalRequested(request('churn-7-1'));
    await notifier.approvalRequested(request('churn-7-1', { reminder: true }));
    expect(sent.map((m) => [m.subject, m.messageId])).toEqual([
      ['approval-requested', 'churn-7-1:approval:ana@contoso.com'],
      ['approval-requested', 'churn-7-1:approval:bo@contoso.com'],
      ['approval-reminder', 'churn-7-1:approval-reminder:ana@contoso.com'],
      ['approval-reminder', 'churn-7-1:approval-reminder:bo@contoso.com'],
    ]);
    expect((sent[2]?.body as { approveUrl: string }).approveUrl).toBe(
      (sent[0]?.body as { approveUrl: string }).approveUrl,
    );
  });

  it('sends links for any approver without an approver property', async () => {
    const { credential } = fakeCredential();
    const { sender, sent } = fakeSender();
    const notifier = new ServiceBusNotifier({ ...target(credential), createSender: () => sender });
    const approval = request('p1', {
      links: [{ approveUrl: 'https://x/a#token=1', rejectUrl: 'https://x/r#token=2' }],
    });
    await notifier.approvalRequested(approval);
    expect(sent.map((m) => [m.messageId, m.applicationProperties])).toEqual([
      ['p1:approval', { modelName: 'churn', modelVersion: '7' }],
    ]);
  });

  it('gives a retried request the same message id, so duplicate detection drops it', async () => {
    const { credential } = fakeCredential();
    const { sender, sent } = fakeSender();
    const notifier = new ServiceBusNotifier({ ...target(credential), createSender: () => sender });

    await notifier.approvalRequested(request('churn-7-1'));
    await notifier.approvalRequested(request('churn-7-1'));
    await notifier.approvalRequested(request('churn-8-1', { modelVersion: '8' }));

    expect(sent.map((m) => m.messageId)).toEqual([
      'churn-7-1:approval:ana@contoso.com',
      'churn-7-1:approval:bo@contoso.com',
      'churn-7-1:approval:ana@contoso.com',
      'churn-7-1:approval:bo@contoso.com',
      'churn-8-1:approval:ana@contoso.com',
      'churn-8-1:approval:bo@contoso.com',
    ]);
  });

  it('lets a send failure reach the caller so the activity is retried', async () => {
    const { credential } = fakeCredential();
    const notifier = new ServiceBusNotifier({
      ...target(credential),
      createSender: () => ({ sendMessages: async () => Promise.reject(new Error('ServiceBusy')) }),
    });
    await expect(notifier.approvalRequested(request('p1'))).rejects.toThrow('ServiceBusy');
  });

  it('closes the sender once and refuses to send afterwards', async () => {
    const { credential } = fakeCredential();
    const { sender } = fakeSender();
    const notifier = new ServiceBusNotifier({ ...target(credential), createSender: () => sender });

    await notifier.close();
    await notifier.close();

    expect(sender.close).toHaveBeenCalledTimes(1);
    await expect(notifier.approvalRequested(request('p1'))).rejects.toThrow(/closed/);
    expect(sender.sendMessages).not.toHaveBeenCalled();
  });

  it('closes a sender that has no close method', async () => {
    const { credential } = fakeCredential();
    const notifier = new ServiceBusNotifier({ ...target(credential), createSender: () => ({ sendMessages: vi.fn() }) });
    await expect(notifier.close()).resolves.toBeUndefined();
  });

  it('builds the real Service Bus client and sender without any I/O', async () => {
    const { credential, getToken } = fakeCredential();
    const connects = [
      vi.spyOn(net, 'connect'),
      vi.spyOn(net, 'createConnection'),
      vi.spyOn(tls, 'connect'),
      vi.spyOn(dns, 'lookup'),
    ];

    const notifier = new ServiceBusNotifier(target(credential));
    // Let anything the constructor scheduled run before checking.
    await new Promise((resolve) => setImmediate(resolve));
    await notifier.close();

    expect(getToken).not.toHaveBeenCalled();
    for (const connect of connects) expect(connect).not.toHaveBeenCalled();
  });
});

describe('OutboxNotifier', () => {
  it('writes each approver their own links, readable by its owner only, and logs no token', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outbox-'));
    try {
      const log = vi.fn();
      const approval = request('promote:churn:7');
      await new OutboxNotifier(dir, log).approvalRequested(approval);
      const inbox = new Inbox(dir);
      const ana = inbox.message('promote:churn:7', 'ana@contoso.com');
      expect(ana).toMatchObject({ approver: 'ana@contoso.com', ...approval.links[0] });
      expect(JSON.stringify(ana)).not.toContain('e.f');
      expect(inbox.message('promote:churn:7', 'bo@contoso.com')?.approveUrl).toContain('#token=e.f');
      expect(inbox.message('promote:churn:7')).toBeUndefined();
      const file = outboxFile(dir, 'promote:churn:7', 'ana@contoso.com');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(log).toHaveBeenCalledTimes(1);
      expect(JSON.stringify(log.mock.calls)).not.toMatch(/token|a\.b/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes a reminder beside the request, leaving the request as it was', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outbox-'));
    try {
      const notifier = new OutboxNotifier(dir);
      await notifier.approvalRequested(request('promote:churn:7'));
      await notifier.approvalRequested(request('promote:churn:7', { reminder: true }));
      const inbox = new Inbox(dir);
      expect(inbox.message('promote:churn:7', 'ana@contoso.com')?.reminder).toBeUndefined();
      const reminder = JSON.parse(
        readFileSync(outboxFile(dir, 'promote:churn:7', 'ana@contoso.com', true), 'utf8'),
      ) as { reminder?: boolean; approveUrl: string };
      expect(reminder).toMatchObject({ reminder: true, approveUrl: request('promote:churn:7').links[0]!.approveUrl });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MemoryNotifier', () => {
  it('keeps the requests in order, as copies', async () => {
    const notifier = new MemoryNotifier();
    const first = request('p1');
    await notifier.approvalRequested(first);
    await notifier.approvalRequested(request('p2'));

    first.modelName = 'changed';
    const kept = notifier.requests();
    kept.pop();

    expect(notifier.requests().map((r) => [r.promotionId, r.modelName])).toEqual([
      ['p1', 'churn'],
      ['p2', 'churn'],
    ]);
  });

  it('logs one line per request naming who was asked, never a link or token', async () => {
    const log = vi.fn();
    const notifier = new MemoryNotifier({ log });
    await notifier.approvalRequested(request('p1'));

    expect(log).toHaveBeenCalledExactlyOnceWith(
      'Approval requested for churn version 7 (promotion p1, expires 2030-01-02T00:00:00.000Z): ' +
        'links kept in memory to ana@contoso.com, bo@contoso.com',
    );
    expect(JSON.stringify(log.mock.calls)).not.toMatch(/token|a\.b|c\.d|e\.f|g\.h/);
  });

  it('ignores a repeated request for the same promotion, as Service Bus duplicate detection would', async () => {
    const log = vi.fn();
    const notifier = new MemoryNotifier({ log });
    await notifier.approvalRequested(request('p1'));
    await notifier.approvalRequested(request('p1'));

    expect(notifier.requests()).toHaveLength(1);
    expect(log).toHaveBeenCalledTimes(1);
  });

  it('keeps only the most recent requests', async () => {
    const notifier = new MemoryNotifier({ capacity: 3 });
    for (let i = 1; i <= 5; i++) await notifier.approvalRequested(request(`p${i}`));
    expect(notifier.requests().map((r) => r.promotionId)).toEqual(['p3', 'p4', 'p5']);
  });

  it('keeps the last 1,000 by default', async () => {
    const notifier = new MemoryNotifier();
    for (let i = 1; i <= 1005; i++) await notifier.approvalRequested(request(`p${i}`));
    const kept = notifier.requests();
    expect(kept).toHaveLength(1000);
    expect(kept[0]?.promotionId).toBe('p6');
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new MemoryNotifier({ capacity: 0 })).toThrow(RangeError);
    expect(() => new MemoryNotifier({ capacity: 1.5 })).toThrow(RangeError);
  });
});
