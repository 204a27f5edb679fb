import { isAbsolute, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { userError } from './http';

/** Where things live in the data directory. */
export class Layout {
  constructor(readonly dataDir: string) {}

  get db(): string {
    return join(this.dataDir, 'workspace.db');
  }

  jobOutput(job: string, output = 'model'): string {
    return this.inside(join(this.dataDir, 'jobs', job, 'outputs'), output);
  }

  model(name: string, version: string): string {
    return this.inside(join(this.dataDir, 'models'), join(name, version));
  }

  /** Joins `rel` under `base`, refusing paths that climb out of it. */
  inside(base: string, rel: string): string {
    const full = normalize(join(base, rel));
    if (full !== base && !full.startsWith(base + sep)) throw userError(`Path '${rel}' leaves the data directory.`);
    return full;
  }
}

export type ParsedUri =
  | { kind: 'file'; path: string }
  | { kind: 'datastore'; datastore: string; path: string }
  | { kind: 'jobOutput'; job: string; output: string; path: string }
  | { kind: 'dataAsset'; name: string; version: string | 'latest' }
  | { kind: 'modelAsset'; name: string; version: string | 'latest' }
  | { kind: 'remote'; uri: string };

/**
 * The URI forms the local workspace resolves: `azureml://datastores/{ds}/paths/{p}` (also the long
 * `azureml://subscriptions/.../workspaces/{ws}/datastores/...` form), `azureml://jobs/{job}/outputs/{out}[/paths/{p}]`,
 * `runs:/{job}/{path}`, `azureml:{name}:{version}` / `azureml:{name}@latest`, ARM ids of data or model versions,
 * `file://` URLs and absolute paths. Anything else (https, wasbs, ...) is remote and cannot be read locally.
 */
export function parseUri(uri: string): ParsedUri {
  const u = uri.trim();
  let m = /^azureml:\/\/(?:.*\/)?datastores\/([^/]+)\/paths\/?(.*)$/i.exec(u);
  if (m) return { kind: 'datastore', datastore: m[1]!, path: decodeURIComponent(m[2]!) };
  m = /^azureml:\/\/(?:.*\/)?jobs\/([^/]+)\/outputs\/([^/]+)(?:\/paths\/?(.*))?$/i.exec(u);
  if (m) {
    const output = m[2] === 'artifacts' ? 'model' : m[2]!;
    return { kind: 'jobOutput', job: m[1]!, output, path: m[3] ?? '' };
  }
  m = /^runs:\/([^/]+)\/?(.*)$/i.exec(u);
  if (m) return { kind: 'jobOutput', job: m[1]!, output: 'model', path: '' };
  m =
    /^(?:azureml:)?\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+\/(data|models)\/([^/]+)\/versions\/([^/]+)$/i.exec(
      u,
    );
  if (m) return { kind: m[1]!.toLowerCase() === 'data' ? 'dataAsset' : 'modelAsset', name: m[2]!, version: m[3]! };
  m = /^azureml:([^:/@]+)(?::([^:/@]+)|@latest)$/i.exec(u);
  if (m) return { kind: 'dataAsset', name: m[1]!, version: m[2] ?? 'latest' };
  if (/^file:\/\//i.test(u)) return { kind: 'file', path: fileURLToPath(u) };
  if (isAbsolute(u)) return { kind: 'file', path: u };
  return { kind: 'remote', uri: u };
}
