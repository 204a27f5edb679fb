/**
 * `npm run package` (`node dist/scripts/package.js [--out FILE]`): builds the deployable artefact, a zip of what the Functions host runs, and prints its path as
 * the last line.
 *
 * Flex Consumption deploys a zip package through "one deploy" and runs the app from that package as it is (docs:
 * "Package-based deployment for Azure Functions": Flex Consumption uses managed package deployment and runs from
 * the deployed package; no remote build unless asked for). So the package is ready to run: host.json and a
 * package.json whose `main` finds the compiled functions at its root, the compiled app, its production
 * dependencies in node_modules, and what the app reads at run time (`jobs/`, `environments/`: see `repoRoot` in
 * lib/activities.ts). Nothing of the local runtime, the tests, the benchmarks, the CLI or the dev dependencies.
 *
 * The production dependencies are copied from the installed node_modules, as package-lock.json lists them (every
 * package not marked `dev`), so packaging needs no registry.
 */
import { createWriteStream, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ZipFile } from 'yazl';

/** What goes in besides node_modules and package.json: folders and files of the repository, as they are. */
export const APP_ENTRIES = ['host.json', 'dist/functions', 'dist/orchestrations', 'dist/lib', 'jobs', 'environments'];

interface LockPackage {
  dev?: boolean;
  optional?: boolean;
  link?: boolean;
}

/** The installed folders (relative, e.g. `node_modules/@azure/functions`) of every production dependency. */
export function productionPackages(root: string): string[] {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockPackage>;
  };
  const dirs: string[] = [];
  for (const [dir, info] of Object.entries(lock.packages)) {
    if (dir === '' || info.dev) continue;
    // Type declarations only (some production packages list them as dependencies): nothing to load.
    if (/(^|\/)node_modules\/@types\/[^/]+$/.test(dir)) continue;
    if (info.link) throw new Error(`${dir} is a linked package: packaging copies installed folders only.`);
    if (!existsSync(path.join(root, dir))) {
      // An optional dependency for another platform is not installed, and not needed here either.
      if (info.optional) continue;
      throw new Error(`${dir} is a production dependency but is not installed: run npm ci first.`);
    }
    dirs.push(dir);
  }
  return dirs.sort();
}

/**
 * Files of a dependency that Node never loads: type declarations, and source maps (read only with
 * --enable-source-maps). They are over half of the production dependencies' files and bytes; the app's own source
 * maps stay, for its stack traces.
 */
const NOT_LOADED = /\.(d\.[mc]?ts|map)$/;

/** Every file under `dir` (relative to `root`); for a dependency, without nested node_modules (each is its own lock
 * entry) and files Node never loads. */
function filesUnder(root: string, dir: string, dependency: boolean): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = path.posix.join(rel, entry.name);
      if (entry.isDirectory()) {
        if (dependency && entry.name === 'node_modules') continue;
        walk(child);
      } else if (entry.isFile()) {
        if (!(dependency && NOT_LOADED.test(entry.name))) out.push(child);
      }
      // Symbolic links (node_modules/.bin) are left out: the app never runs a package's command.
    }
  };
  if (statSync(path.join(root, dir)).isDirectory()) walk(dir);
  else out.push(dir);
  return out;
}

/** The package.json the host reads: `main` to find the functions, and nothing that points at missing files. */
export function deployedPackageJson(root: string): string {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const keep = ['name', 'version', 'description', 'private', 'license', 'main', 'engines', 'dependencies'];
  return JSON.stringify(Object.fromEntries(keep.filter((k) => k in pkg).map((k) => [k, pkg[k]])), null, 2) + '\n';
}

export async function buildPackage(root: string, out: string): Promise<{ file: string; entries: number }> {
  for (const entry of APP_ENTRIES) {
    if (!existsSync(path.join(root, entry))) throw new Error(`${entry} is missing: run npm run build first.`);
  }
  const files = [
    ...APP_ENTRIES.flatMap((entry) => filesUnder(root, entry, false)),
    ...productionPackages(root).flatMap((dir) => filesUnder(root, dir, true)),
  ];
  rmSync(out, { force: true });
  const zip = new ZipFile();
  // Fixed times and modes: the same sources give the same bytes.
  const options = { mtime: new Date('2000-01-01T00:00:00Z'), mode: 0o100644 };
  zip.addBuffer(Buffer.from(deployedPackageJson(root)), 'package.json', options);
  for (const file of files) {
    const executable = (statSync(path.join(root, file)).mode & 0o111) !== 0;
    zip.addFile(path.join(root, file), file, { ...options, mode: executable ? 0o100755 : 0o100644 });
  }
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const stream = createWriteStream(out);
    stream.once('error', reject);
    stream.once('close', () => resolve());
    zip.outputStream.once('error', reject).pipe(stream);
  });
  return { file: out, entries: files.length + 1 };
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '../..');
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const out = path.resolve(values.out ?? path.join(root, 'dist', 'champion.zip'));
  const { file, entries } = await buildPackage(root, out);
  const mb = statSync(file).size / 1024 / 1024;
  console.log(`${entries} files, ${mb.toFixed(1)} MB; deploy with: az functionapp deployment source config-zip --src`);
  console.log(file);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
