/**
 * Application Insights on the embedded default: with APPLICATIONINSIGHTS_CONNECTION_STRING pointing at a local https
 * server that records what the applicationinsights package ingests, each lifecycle step arrives as a custom event
 * (and a metric) in the operation of its promotion; without it, nothing is sent.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationIdOf } from '../../lib/adapters/telemetry';
import { loadOrCreateCertificate } from '../../local/workspace/tls';
import { EmbeddedApp } from '../support/embedded';
import { eventually, tempDir } from '../support/processes';

interface Envelope {
  name: string;
  tags?: Record<string, string>;
  data?: {
    baseType?: string;
    baseData?: {
      name?: string;
      properties?: Record<string, string>;
      measurements?: Record<string, number>;
      metrics?: { name: string; value: number }[];
    };
  };
}

describe('Application Insights', { timeout: 240_000 }, () => {
  const received: Envelope[] = [];
  let server: https.Server;
  let ingestion: string;
  let certPath: string;

  beforeAll(async () => {
    const tls = loadOrCreateCertificate(tempDir('ingestion'), '127.0.0.1');
    server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const text = body.toString('utf8').trim();
        if (req.url?.includes('/track') && text) {
          const parsed = text.startsWith('[')
            ? (JSON.parse(text) as Envelope[])
            : text.split('\n').map((l) => JSON.parse(l) as Envelope);
          received.push(...parsed);
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ itemsReceived: 1, itemsAccepted: 1, errors: [] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    ingestion = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    certPath = tls.certPath;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const customEvents = () =>
    received.filter((e) => e.data?.baseType === 'EventData' && e.data.baseData?.name?.startsWith('Champion.'));

  async function awaitingApproval(app: EmbeddedApp): Promise<void> {
    await app.lab.trainAndRegister({ name: 'demand', version: '1', seed: 1, as: 'dana' });
    await eventually(
      async () => {
        const res = await fetch(`${app.url}/api/promotions/promote%3Ademand%3A1`);
        const body = res.status === 200 ? ((await res.json()) as { status?: { phase: string } }) : undefined;
        return body?.status?.phase === 'awaiting-approval' ? true : undefined;
      },
      'awaiting approval',
      600,
    );
  }

  it("with a connection string: a custom event per step and the step metric, in the promotion's operation", async () => {
    const app = await EmbeddedApp.start({
      provisioningMs: 100,
      env: {
        APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-4000-8000-000000000001;IngestionEndpoint=${ingestion}`,
        // The ingestion endpoint's self-signed certificate (the exporter sends over https only).
        NODE_EXTRA_CA_CERTS: certPath,
      },
    });
    try {
      await awaitingApproval(app);
      const events = await eventually(
        async () => {
          const list = customEvents();
          return list.some((e) => e.data?.baseData?.name === 'Champion.Approval.Requested') ? list : undefined;
        },
        'the approval request in the ingestion',
        600,
      );
      const ofPromotion = events.filter((e) => e.data?.baseData?.properties?.instanceId === 'promote:demand:1');
      expect(ofPromotion.map((e) => e.data?.baseData?.name)).toEqual([
        'Champion.Promotion.Started',
        'Champion.Promotion.Evaluated',
        'Champion.Approval.Requested',
      ]);
      for (const e of ofPromotion) {
        expect(e.tags?.['ai.operation.id']).toBe(operationIdOf('promote:demand:1'));
        expect(e.data?.baseData?.properties).toMatchObject({ modelName: 'demand', modelVersion: '1' });
      }
      expect(ofPromotion[1]!.data?.baseData?.properties).toMatchObject({ decision: 'win' });
      const metric = await eventually(
        async () => received.find((e) => e.data?.baseData?.metrics?.some((m) => m.name === 'Champion.LifecycleStep')),
        'the step metric',
        600,
      );
      expect(metric.data?.baseData?.properties).toMatchObject({ modelName: 'demand' });
    } finally {
      await app.stop();
    }
  });

  it('without one: nothing reaches the ingestion endpoint', async () => {
    const before = received.length;
    const app = await EmbeddedApp.start({ provisioningMs: 100 });
    try {
      await awaitingApproval(app);
    } finally {
      await app.stop();
    }
    expect(received.length).toBe(before);
  });
});
