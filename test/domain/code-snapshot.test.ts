/**
 * A code snapshot's version is the content hash azure-ai-ml computes for a code folder (`_asset_utils.py`
 * `get_content_hash`): the same files give the same version whatever order they are read in; any change to a file's
 * bytes or path gives a new one.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { codeAssetName, codeSnapshotHash, codeUploadFolder, type CodeFile } from '../../lib/domain/code-snapshot';

const file = (path: string, text: string): CodeFile => ({ path, content: Buffer.from(text) });
const snapshot = [file('train.py', 'print("train")\n'), file('lib/util.py', 'X = 1\n'), file('README.md', '# code\n')];

describe('code snapshot hash', () => {
  it('is SHA-256 over the file count, then #path# and size of each file by lower-cased path, then their bytes', () => {
    const expected = createHash('sha256').update('2#a.txt#1#B.txt#2ab!').digest('hex');
    expect(codeSnapshotHash([file('B.txt', 'b!'), file('a.txt', 'a')])).toBe(expected);
  });

  it('is the same for the same files, whatever order they are listed in', () => {
    expect(codeSnapshotHash([...snapshot].reverse())).toBe(codeSnapshotHash(snapshot));
    expect(codeSnapshotHash(snapshot.map((f) => ({ path: f.path, content: Buffer.from(f.content) })))).toBe(
      codeSnapshotHash(snapshot),
    );
    expect(codeSnapshotHash(snapshot)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes when any byte changes', () => {
    const base = codeSnapshotHash(snapshot);
    const edited = snapshot.map((f) => (f.path === 'lib/util.py' ? file(f.path, 'X = 2\n') : f));
    expect(codeSnapshotHash(edited)).not.toBe(base);
    const appended = snapshot.map((f) => (f.path === 'train.py' ? file(f.path, 'print("train")\n\n') : f));
    expect(codeSnapshotHash(appended)).not.toBe(base);
  });

  it('changes when a path changes, a file is added or one is removed', () => {
    const base = codeSnapshotHash(snapshot);
    expect(codeSnapshotHash(snapshot.map((f) => (f.path === 'train.py' ? { ...f, path: 'fit.py' } : f)))).not.toBe(
      base,
    );
    expect(codeSnapshotHash(snapshot.map((f) => (f.path === 'lib/util.py' ? { ...f, path: 'util.py' } : f)))).not.toBe(
      base,
    );
    expect(codeSnapshotHash([...snapshot, file('empty.txt', '')])).not.toBe(base);
    expect(codeSnapshotHash(snapshot.slice(1))).not.toBe(base);
  });

  it('keeps apart files whose names and contents run together', () => {
    expect(codeSnapshotHash([file('a.txt', 'a'), file('b.txt', 'b')])).not.toBe(
      codeSnapshotHash([file('a.txt', 'ab.txtb')]),
    );
    expect(codeSnapshotHash([file('a', 'bc')])).not.toBe(codeSnapshotHash([file('ab', 'c')]));
  });
});

describe('code asset naming', () => {
  it('names the asset after the repo folder and uploads below LocalUpload/<hash>/<folder name>', () => {
    expect(codeAssetName('jobs/code')).toBe('champion-jobs-code');
    expect(codeAssetName('./jobs/code/')).toBe('champion-jobs-code');
    expect(codeUploadFolder('abc123', 'jobs/code')).toBe('LocalUpload/abc123/code');
  });
});
