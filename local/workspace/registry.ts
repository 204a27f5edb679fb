/**
 * An Azure Machine Learning registry served by the local host beside its workspaces, under its own ARM id
 * (`/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/registries/{name}`): model
 * versions (`models/{name}/versions/{version}`: GET, PUT) and the pending upload that gives a client a blob SAS to
 * put a version's files (`startPendingUpload`). Only what the REST spec (stable 2024-10-01, registries.json and
 * mfe.json with their examples under examples/Registry/ModelVersion) says is enforced; each rule names its source.
 * Its storage is a container of the host's storage account (Azurite); versions are kept in a JSON file.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerSASPermissions } from '@azure/storage-blob';
import { z } from 'zod';
import { ArmError, notFound, validate } from './http';
import type { Principal } from './principals';
import type { LocalStorage } from './storage';
import { STORAGE_ACCOUNT } from './storage';

const PROVIDER = 'Microsoft.MachineLearningServices';

/** registries.json `RegistryNameParameter`: "^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$", case-insensitive. */
export const REGISTRY_NAME = /^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$/;

/**
 * mfe.json `ModelVersion` (the body of `RegistryModelVersions_CreateOrUpdate`, examples/Registry/ModelVersion/
 * createOrUpdate.json): `properties` is required; `modelUri`, `modelType`, `tags`, `properties`, `description`,
 * `flavors` are optional. Other keys are kept as sent.
 */
const versionBody = z.object({
  properties: z
    .object({
      modelUri: z.string().optional(),
      modelType: z.string().optional(),
      description: z.string().nullable().optional(),
      tags: z.record(z.string(), z.string().nullable()).nullable().optional(),
      properties: z.record(z.string(), z.string().nullable()).nullable().optional(),
    })
    .passthrough(),
});

/**
 * mfe.json `PendingUploadRequestDto` (examples/Registry/ModelVersion/createOrGetStartPendingUpload.json):
 * `pendingUploadId` (optional) and `pendingUploadType`, "None" or "TemporaryBlobReference".
 */
const pendingUploadBody = z.object({
  pendingUploadId: z.string().nullable().optional(),
  pendingUploadType: z.enum(['None', 'TemporaryBlobReference']).optional(),
});

interface StoredVersion {
  name: string;
  version: string;
  properties: Record<string, unknown>;
  createdAt: string;
  createdBy: Principal;
}

export class LocalRegistry {
  readonly #file: string;
  readonly #versions = new Map<string, StoredVersion>();

  constructor(
    readonly opts: { subscriptionId: string; resourceGroup: string; registryName: string; location: string },
    dataDir: string,
    private readonly storage: LocalStorage,
  ) {
    if (!REGISTRY_NAME.test(opts.registryName)) {
      throw new Error(`registry name '${opts.registryName}' must match ${REGISTRY_NAME.source} (registries.json)`);
    }
    const dir = join(dataDir, 'registries', opts.resourceGroup, opts.registryName);
    mkdirSync(dir, { recursive: true });
    this.#file = join(dir, 'models.json');
    if (existsSync(this.#file)) {
      for (const v of JSON.parse(readFileSync(this.#file, 'utf8')) as StoredVersion[]) this.#versions.set(key(v), v);
    }
  }

  get registryId(): string {
    const o = this.opts;
    return `/subscriptions/${o.subscriptionId}/resourceGroups/${o.resourceGroup}/providers/${PROVIDER}/registries/${o.registryName}`;
  }

  /** The storage container holding the registry's assets (a registry has storage of its own on Azure). */
  get container(): string {
    return `azureml-registry-${this.opts.registryName.toLowerCase().replace(/_/g, '-')}`;
  }

  async start(): Promise<void> {
    await this.storage.container(this.container).createIfNotExists();
  }

  /** `rest`: the path after `registries/{name}`, decoded. */
  async route(
    method: string,
    rest: string[],
    body: unknown,
    caller: Principal,
  ): Promise<{ status: number; body?: unknown }> {
    const eq = (a: string | undefined, b: string) => a?.toLowerCase() === b.toLowerCase();
    if (rest.length === 0) {
      if (method !== 'GET') throw methodNotAllowed(method);
      return { status: 200, body: this.registryBody() };
    }
    const [models, name, versions, version, action] = rest;
    if (!eq(models, 'models') || !name || !eq(versions, 'versions') || !version) {
      throw notFound(`${PROVIDER}/registries/${this.opts.registryName}/${rest.join('/')}`);
    }
    const id = `${this.registryId}/models/${name}/versions/${version}`;
    if (rest.length === 5 && eq(action, 'startPendingUpload')) {
      if (method !== 'POST') throw methodNotAllowed(method);
      return { status: 200, body: await this.startPendingUpload(name, version, body) };
    }
    if (rest.length !== 4) throw notFound(`${PROVIDER}/registries/${this.opts.registryName}/${rest.join('/')}`);
    const stored = this.#versions.get(key({ name, version }));
    if (method === 'GET') {
      if (!stored) throw notFound(id);
      return { status: 200, body: this.versionBody(stored) };
    }
    if (method === 'PUT') {
      const parsed = validate(versionBody, body);
      const next: StoredVersion = {
        name: stored?.name ?? name,
        version: stored?.version ?? version,
        properties: parsed.properties,
        createdAt: stored?.createdAt ?? new Date().toISOString(),
        createdBy: stored?.createdBy ?? caller,
      };
      this.#versions.set(key(next), next);
      writeFileSync(this.#file, JSON.stringify([...this.#versions.values()], null, 2));
      // examples/Registry/ModelVersion/createOrUpdate.json: 200 (updated) or 201 (created), with the resource.
      return { status: stored ? 200 : 201, body: this.versionBody(next) };
    }
    throw methodNotAllowed(method);
  }

  /**
   * A blob SAS for a version's files (examples/Registry/ModelVersion/createOrGetStartPendingUpload.json):
   * `blobReferenceForConsumption` with `blobUri`, `storageAccountArmId` and `credential` `{credentialType: "SAS",
   * sasUri}`; the same `pendingUploadId` gets the same location. The SAS lifetime (1 h) is local.
   */
  private async startPendingUpload(name: string, version: string, body: unknown) {
    const request = validate(pendingUploadBody, body ?? {});
    const pendingUploadId = request.pendingUploadId ?? randomUUID();
    const prefix = `models/${name}/${version}/${pendingUploadId}`;
    const container = this.storage.container(this.container);
    const sas = await container.generateSasUrl({
      permissions: ContainerSASPermissions.parse('racwl'),
      expiresOn: new Date(Date.now() + 3_600_000),
    });
    const [base, query] = sas.split('?');
    return {
      blobReferenceForConsumption: {
        blobUri: `${base}/${prefix}`,
        storageAccountArmId: `/subscriptions/${this.opts.subscriptionId}/resourceGroups/${this.opts.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${STORAGE_ACCOUNT}`,
        credential: { credentialType: 'SAS', sasUri: `${base}/${prefix}?${query}` },
      },
      pendingUploadId,
      pendingUploadType: request.pendingUploadType ?? 'TemporaryBlobReference',
    };
  }

  private versionBody(v: StoredVersion) {
    return {
      id: `${this.registryId}/models/${v.name}/versions/${v.version}`,
      name: v.version,
      type: `${PROVIDER}/registries/models/versions`,
      properties: { isAnonymous: false, ...v.properties },
      systemData: {
        createdAt: v.createdAt,
        createdBy: v.createdBy.name,
        createdByType: v.createdBy.type,
        lastModifiedAt: v.createdAt,
        lastModifiedBy: v.createdBy.name,
        lastModifiedByType: v.createdBy.type,
      },
    };
  }

  private registryBody() {
    return {
      id: this.registryId,
      name: this.opts.registryName,
      type: `${PROVIDER}/registries`,
      location: this.opts.location,
      properties: { regionDetails: [{ location: this.opts.location }] },
    };
  }
}

/** Model names and versions compare without regard to case, as ARM names do. */
const key = (v: { name: string; version: string }) => `${v.name.toLowerCase()}/${v.version.toLowerCase()}`;

function methodNotAllowed(method: string): ArmError {
  return new ArmError(405, 'MethodNotAllowed', `The method '${method}' is not supported on this resource.`);
}
