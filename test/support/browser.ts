/**
 * Headless Chromium for the page tests, driven by playwright-core. Nothing is downloaded: the browser is the system
 * Chromium when one is installed (/usr/bin/chromium, Debian's package) or else the one the @sparticuz/chromium npm
 * package ships, brotli-compressed with the few shared libraries (NSS, expat) and fonts it needs; it is unpacked
 * once, at first use, into `.browser/` (git-ignored). CHAMPION_CHROMIUM names another executable.
 *
 * Screenshots go to `test-results/screenshots/` (git-ignored), one PNG per name, replaced on each run.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, brotliDecompressSync } from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from './processes';

export const SCREENSHOT_DIR = path.join(repoRoot, 'test-results', 'screenshots');
const UNPACK_ROOT = path.join(repoRoot, '.browser');
const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/**
 * The flags for this machine's closed network: no GPU, no QUIC, and none of Chromium's background connections
 * (component updates, sync, first-run pings), which would only be refused here and slow every start.
 */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ChromiumBinary {
  executablePath: string;
  /** Extra environment the binary needs (its bundled libraries and fonts); empty for a system Chromium. */
  env: Record<string, string>;
  source: 'CHAMPION_CHROMIUM' | 'system' | '@sparticuz/chromium';
}

/** Which Chromium the tests use, unpacking the npm package's binary on first use. */
export async function chromiumBinary(): Promise<ChromiumBinary> {
  const named = process.env.CHAMPION_CHROMIUM;
  if (named) return { executablePath: named, env: {}, source: 'CHAMPION_CHROMIUM' };
  if (existsSync(SYSTEM_CHROMIUM)) return { executablePath: SYSTEM_CHROMIUM, env: {}, source: 'system' };
  const dir = await unpackedPackage();
  return {
    executablePath: path.join(dir, 'chromium'),
    env: {
      // Its own NSS and expat first: a fresh Debian machine has neither installed.
      LD_LIBRARY_PATH: [path.join(dir, 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
      FONTCONFIG_FILE: path.join(dir, 'fonts.conf'),
    },
    source: '@sparticuz/chromium',
  };
}

function packageDir(): string {
  // The package exports only its entry point (build/index.js), not package.json.
  return path.resolve(path.dirname(require.resolve('@sparticuz/chromium')), '..');
}

/**
 * `.browser/chromium-<version>/` with the executable, `lib/` and `fonts/`. Unpacked into a temporary folder and
 * renamed into place, so two test workers starting together never see half a binary.
 */
async function unpackedPackage(): Promise<string> {
  const pkg = packageDir();
  const { version } = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { version: string };
  const target = path.join(UNPACK_ROOT, `chromium-${version}`);
  if (existsSync(path.join(target, 'chromium'))) return target;
  mkdirSync(UNPACK_ROOT, { recursive: true });
  const staging = path.join(UNPACK_ROOT, `.unpacking-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(staging);
  try {
    const bin = path.join(pkg, 'bin');
    await pipeline(
      createReadStream(path.join(bin, 'chromium.br')),
      createBrotliDecompress(),
      createWriteStream(path.join(staging, 'chromium'), { mode: 0o755 }),
    );
    // al2023.tar holds lib/*.so (NSS, NSPR, expat); fonts.tar holds fonts/Open_Sans/*.ttf.
    untar(brotliDecompressSync(readFileSync(path.join(bin, 'al2023.tar.br'))), staging);
    untar(brotliDecompressSync(readFileSync(path.join(bin, 'fonts.tar.br'))), staging);
    writeFileSync(
      path.join(staging, 'fonts.conf'),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n` +
        `  <dir>${path.join(target, 'fonts')}</dir>\n  <dir>/usr/share/fonts</dir>\n` +
        `  <cachedir>${path.join(target, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
    );
    try {
      renameSync(staging, target);
    } catch (error) {
      // Another worker finished first: theirs is as good as ours.
      if (!existsSync(path.join(target, 'chromium'))) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return target;
}

/** Extracts the regular files and folders of a ustar archive (all these archives hold) below `dir`. */
export function untar(archive: Buffer, dir: string): void {
  const root = path.resolve(dir);
  for (let offset = 0; offset + 512 <= archive.length;) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const name = (prefix ? `${prefix}/` : '') + field(0, 100);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const mode = parseInt(field(100, 8).trim() || '644', 8);
    const destination = path.resolve(root, name);
    if (destination !== root && !destination.startsWith(root + path.sep)) {
      throw new Error(`The archive names a path outside its folder: ${name}`);
    }
    const body = archive.subarray(offset + 512, offset + 512 + size);
    if (type === '5') mkdirSync(destination, { recursive: true });
    else if (type === '0') {
      mkdirSync(path.dirname(destination), { recursive: true });
      writeFileSync(destination, body, { mode: mode & 0o777 });
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
}

/** A launched browser; each `page()` opens in its own context (no shared cookies or storage). */
export interface TestBrowser {
  browser: Browser;
  source: ChromiumBinary['source'];
  page(options?: Parameters<Browser['newContext']>[0]): Promise<Page>;
  close(): Promise<void>;
}

/** Starts headless Chromium; Playwright gives every launch a fresh, empty --user-data-dir of its own. */
export async function launchBrowser(): Promise<TestBrowser> {
  const binary = await chromiumBinary();
  const browser = await chromium.launch({
    executablePath: binary.executablePath,
    headless: true,
    args: CHROMIUM_FLAGS,
    env: { ...process.env, ...binary.env } as Record<string, string>,
  });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    source: binary.source,
    async page(options) {
      const context = await browser.newContext(options);
      contexts.push(context);
      return context.newPage();
    },
    close: () => browser.close(),
  };
}

/** Runs `use` with a fresh browser and closes it whatever happens. */
export async function withBrowser<T>(use: (browser: TestBrowser) => Promise<T>): Promise<T> {
  const browser = await launchBrowser();
  try {
    return await use(browser);
  } finally {
    await browser.close();
  }
}

/** Saves the whole page as `test-results/screenshots/<name>.png` and returns the file. */
export async function screenshot(page: Page, name: string): Promise<string> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`screenshot name: lower-case letters, digits and -: ${name}`);
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
