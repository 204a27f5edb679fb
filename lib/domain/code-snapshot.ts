/**
 * A training job's code snapshot and the version it is registered under: the content hash of its files, so the same
 * files are uploaded and registered once, and any change to a file's bytes or path is a new version.
 *
 * The hash follows the one the Azure ML SDK v2 computes for a code folder (azure-ai-ml,
 * `azure/ai/ml/_utils/_asset_utils.py`: `get_content_hash` → `_get_file_list_content_hash`, used by
 * `_artifacts/_artifact_utilities.py` `_get_snapshot_path_info`, whose hash names the upload folder
 * `LocalUpload/<hash>/` and is recorded on the code version as `hash_sha256` with `hash_version` 202208): SHA-256 over
 * the file count, then `#path#` and the size of each file in order of lower-cased relative path, then each file's bytes
 * in that order. The count and sizes keep `a.txt`="a" + `b.txt`="b" apart from a single `a.txt`="ab.txtb".
 */
import { createHash } from 'node:crypto';

/** A file of a code snapshot: its path below the snapshot's folder (with `/`) and its bytes. */
export interface CodeFile {
  path: string;
  content: Buffer;
}

/** `hash_version` the SDK records beside `hash_sha256` for this way of hashing. */
export const CODE_HASH_VERSION = '202208';

/** Where uploaded code goes in the default datastore, as the SDK and CLI put it. */
export const CODE_UPLOAD_ROOT = 'LocalUpload';

const byPath = (a: CodeFile, b: CodeFile) => {
  const x = a.path.toLowerCase();
  const y = b.path.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
};

/** The SHA-256 (hex) of a snapshot's files; the order the files are given in does not matter. */
export function codeSnapshotHash(files: readonly CodeFile[]): string {
  const sorted = [...files].sort(byPath);
  const hash = createHash('sha256');
  hash.update(String(sorted.length));
  for (const file of sorted) hash.update(`#${file.path}#`).update(String(file.content.length));
  for (const file of sorted) hash.update(file.content);
  return hash.digest('hex');
}

/** The code asset a repo folder is registered as: `jobs/code` → `champion-jobs-code`. */
export function codeAssetName(folder: string): string {
  const slug = folder
    .replace(/\\/g, '/')
    .replace(/^[./]+|\/+$/g, '')
    .replace(/[^A-Za-z0-9_.-]+/g, '-');
  return `champion-${slug || 'code'}`;
}

/** The datastore folder a snapshot is uploaded to: `LocalUpload/<hash>/<folder name>`, as `az ml` lays it out. */
export function codeUploadFolder(hash: string, folder: string): string {
  const base = folder.replace(/\\/g, '/').replace(/\/+$/, '').split('/').at(-1) || 'code';
  return `${CODE_UPLOAD_ROOT}/${hash}/${base}`;
}
