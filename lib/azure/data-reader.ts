/**
 * Reads a data asset's rows the way Azure ML stores them: the data version's `dataUri` names a datastore path
 * (`azureml://datastores/{ds}/paths/{p}`), the datastore names a blob account and container, and the blob is read
 * over the Blob REST API with an Entra ID token for the app's identity.
 */
import type { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import type { TokenCredential } from '@azure/core-auth';
import https from 'node:https';
import type { DataReader, Table } from '../ports';

const STORAGE_SCOPE = 'https://storage.azure.com/.default';
const BLOB_API_VERSION = '2021-08-06';

export interface BlobReaderOptions {
  /**
   * Blob service URL for an account, `{account}` replaced; default `https://{account}.blob.{endpoint suffix}`.
   * Path-style URLs (as Azurite uses) point it elsewhere.
   */
  blobServiceUrl?: string;
  caCert?: string;
}

/** Parses CSV with a header (numbers become numbers, empty cells null) or a JSON array of row objects. */
export function parseTable(text: string, source: string): Table {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    const records = JSON.parse(trimmed) as Record<string, number | string | null>[];
    const columns = Object.keys(records[0] ?? {});
    return { columns, rows: records.map((r) => columns.map((c) => r[c] ?? null)) };
  }
  const lines = trimmed.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift();
  if (!header) throw new Error(`${source} is empty.`);
  const columns = header.split(',').map((c) => c.trim());
  const rows = lines.map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== columns.length) {
      throw new Error(`${source}: line ${i + 2} has ${cells.length} cells, the header has ${columns.length}.`);
    }
    return cells.map((cell) => {
      const value = cell.trim();
      if (value === '') return null;
      const n = Number(value);
      return Number.isFinite(n) ? n : value;
    });
  });
  return { columns, rows };
}

export class BlobDataReader implements DataReader {
  readonly #agent: https.Agent;

  constructor(
    private readonly client: AzureMachineLearningWorkspaces,
    private readonly credential: TokenCredential,
    private readonly resourceGroup: string,
    private readonly workspaceName: string,
    private readonly options: BlobReaderOptions = {},
  ) {
    this.#agent = new https.Agent({ keepAlive: true, ...(options.caCert ? { ca: options.caCert } : {}) });
  }

  async readDataAsset(name: string, version: string): Promise<Table> {
    const data = await this.client.dataVersions.get(this.resourceGroup, this.workspaceName, name, version);
    const uri = data.properties.dataUri;
    const match = /^azureml:\/\/datastores\/([^/]+)\/paths\/(.+)$/.exec(uri);
    if (!match)
      throw new Error(
        `Data asset ${name}:${version} has dataUri "${uri}"; only azureml://datastores/… paths are read.`,
      );
    const [, datastoreName = '', path = ''] = match;
    const datastore = await this.client.datastores.get(this.resourceGroup, this.workspaceName, datastoreName);
    const props = datastore.properties as {
      datastoreType: string;
      accountName?: string;
      containerName?: string;
      endpoint?: string;
      protocol?: string;
    };
    if (props.datastoreType !== 'AzureBlob' || !props.accountName || !props.containerName) {
      throw new Error(`Datastore ${datastoreName} is ${props.datastoreType}; only Azure Blob datastores are read.`);
    }
    const service = (
      this.options.blobServiceUrl ??
      `${props.protocol ?? 'https'}://{account}.blob.${props.endpoint ?? 'core.windows.net'}`
    ).replace('{account}', props.accountName);
    const url = `${service.replace(/\/+$/, '')}/${props.containerName}/${path.split('/').map(encodeURIComponent).join('/')}`;
    const token = await this.credential.getToken(STORAGE_SCOPE);
    if (!token) throw new Error('No token for Azure Storage.');
    const text = await this.#get(url, token.token);
    return parseTable(text, `${name}:${version}`);
  }

  #get(url: string, token: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = https.get(
        url,
        { agent: this.#agent, headers: { authorization: `Bearer ${token}`, 'x-ms-version': BLOB_API_VERSION } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 500) >= 400)
              reject(new Error(`GET ${url} answered ${res.statusCode}: ${body.slice(0, 200)}`));
            else resolve(body);
          });
        },
      );
      req.on('error', reject);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
