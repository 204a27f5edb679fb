/**
 * Reads a data asset's rows the way Azure ML stores them: the data version's `dataUri` names a datastore path, the
 * datastore (read through ARM) names a blob account and container, and the blobs are read with @azure/storage-blob
 * and the app's token credential.
 */
import type { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import type { TokenCredential } from '@azure/core-auth';
import type { DataReader, Table } from '../ports';
import { DatastoreContainers, type BlobReaderOptions } from './blob-datastore';

export type { BlobReaderOptions } from './blob-datastore';

/** A datastore path, from `azureml://datastores/{ds}/paths/{p}` or the same below `subscriptions/…/workspaces/{w}/`. */
export interface DatastorePath {
  datastore: string;
  path: string;
  /** Present in the long form. */
  workspace?: { subscriptionId: string; resourceGroup: string; name: string };
}

const SHORT_URI = /^azureml:\/\/datastores\/([^/]+)\/paths\/(.*)$/i;
const LONG_URI =
  /^azureml:\/\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/(?:providers\/Microsoft\.MachineLearningServices\/)?workspaces\/([^/]+)\/datastores\/([^/]+)\/paths\/(.*)$/i;

/**
 * Parses both datastore URI forms Azure ML writes into `dataUri` (the short one of `az ml data create` and the long
 * one the studio shows, "Access data in a job": azureml://subscriptions/…/resourcegroups/…/workspaces/…/datastores/…/paths/…).
 */
export function parseDatastoreUri(uri: string): DatastorePath | undefined {
  const short = SHORT_URI.exec(uri);
  if (short) return { datastore: short[1]!, path: decodeURIComponent(short[2]!) };
  const long = LONG_URI.exec(uri);
  if (long) {
    return {
      datastore: long[4]!,
      path: decodeURIComponent(long[5]!),
      workspace: { subscriptionId: long[1]!, resourceGroup: long[2]!, name: long[3]! },
    };
  }
  return undefined;
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

/** One table from the files of a folder: each file's header must match the first one's. */
export function concatTables(parts: { source: string; table: Table }[]): Table {
  const [first, ...rest] = parts;
  if (!first) throw new Error('no files to read');
  const header = first.table.columns.join(',');
  for (const part of rest) {
    if (part.table.columns.join(',') !== header) {
      throw new Error(
        `${part.source} has columns [${part.table.columns.join(', ')}], ${first.source} has [${first.table.columns.join(', ')}].`,
      );
    }
  }
  return { columns: first.table.columns, rows: parts.flatMap((p) => p.table.rows) };
}

/** Files of a folder that parse as tables; anything else (an MLTable file, a _SUCCESS marker) is not data. */
const TABLE_FILE = /\.(csv|json)$/i;

export class BlobDataReader implements DataReader {
  readonly #containers: DatastoreContainers;

  constructor(
    private readonly client: AzureMachineLearningWorkspaces,
    credential: TokenCredential,
    private readonly resourceGroup: string,
    private readonly workspaceName: string,
    options: BlobReaderOptions = {},
  ) {
    this.#containers = new DatastoreContainers(client, credential, resourceGroup, workspaceName, options);
  }

  async readDataAsset(name: string, version: string): Promise<Table> {
    const data = await this.client.dataVersions.get(this.resourceGroup, this.workspaceName, name, version);
    const { dataUri, dataType } = data.properties;
    const source = `Data asset ${name}:${version}`;
    const location = parseDatastoreUri(dataUri);
    if (!location) {
      throw new Error(
        `${source} has dataUri "${dataUri}"; only azureml://datastores/{datastore}/paths/{path} (short or long form) is read.`,
      );
    }
    this.assertSameWorkspace(location, source);
    if (dataType !== 'uri_file' && dataType !== 'uri_folder') {
      throw new Error(`${source} is ${dataType}; only uri_file and uri_folder assets are read.`);
    }
    const container = await this.#containers.container(location.datastore);
    if (dataType === 'uri_file') {
      const text = (await container.getBlobClient(location.path).downloadToBuffer()).toString('utf8');
      return parseTable(text, `${source} (${location.path})`);
    }
    const prefix = location.path === '' || location.path.endsWith('/') ? location.path : `${location.path}/`;
    const parts: { source: string; table: Table }[] = [];
    for await (const blob of container.listBlobsFlat({ prefix })) {
      if (!TABLE_FILE.test(blob.name)) continue;
      const text = (await container.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
      parts.push({ source: blob.name, table: parseTable(text, blob.name) });
    }
    if (parts.length === 0) throw new Error(`${source}: folder ${location.path} holds no .csv or .json file.`);
    return concatTables(parts);
  }

  /** The long form names a workspace; this app reads its own workspace's datastores only. */
  private assertSameWorkspace(location: DatastorePath, source: string): void {
    const named = location.workspace;
    if (!named) return;
    const same =
      named.subscriptionId.toLowerCase() === this.client.subscriptionId.toLowerCase() &&
      named.resourceGroup.toLowerCase() === this.resourceGroup.toLowerCase() &&
      named.name.toLowerCase() === this.workspaceName.toLowerCase();
    if (!same) {
      throw new Error(
        `${source} points at a datastore of workspace ${named.resourceGroup}/${named.name}; this app reads workspace ${this.resourceGroup}/${this.workspaceName}.`,
      );
    }
  }
}
