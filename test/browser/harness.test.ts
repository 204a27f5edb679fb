/**
 * The browser harness itself: the Chromium it finds starts headless on this machine (no download, no network),
 * runs a page's script, posts a form to a local server, renders without JavaScript, and saves screenshots.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot, SCREENSHOT_DIR, untar, type TestBrowser } from '../support/browser';
import { tempDir } from '../support/processes';

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>harness</title></head><body>
<main><h1 id="title">Static heading</h1>
<form method="post" action="/posted"><label>Comment <input name="comment" id="comment"></label>
<button type="submit">Send</button></form></main>
<script>document.getElementById('title').textContent = 'Script ran';</script></body></html>`;

describe('browser harness', { timeout: 120_000 }, () => {
  let server: Server;
  let base: string;
  let browser: TestBrowser;
  const posted: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.method === 'POST') {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          posted.push(body);
          res.writeHead(200, { 'content-type': 'text/html' }).end('<p id="done">Thanks</p>');
        });
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('runs the page script, submits a form with the keyboard, and saves a screenshot', async () => {
    const page = await browser.page();
    await page.goto(`${base}/`);
    expect(await page.textContent('h1')).toBe('Script ran');
    await page.getByLabel('Comment').fill('looks good');
    const file = await screenshot(page, 'harness-form');
    await page.getByLabel('Comment').press('Enter');
    await page.waitForSelector('#done');
    expect(posted).toEqual(['comment=looks+good']);
    expect(file).toBe(path.join(SCREENSHOT_DIR, 'harness-form.png'));
    expect(readFileSync(file).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  });

  it('renders for a reader without JavaScript', async () => {
    const page = await browser.page({ javaScriptEnabled: false });
    await page.goto(`${base}/`);
    expect(await page.textContent('h1')).toBe('Static heading');
  });

  it('unpacks only inside its folder', () => {
    const header = Buffer.alloc(1024);
    header.write('../escape.txt', 0);
    header.write('0000644', 100);
    header.write('00000000000', 124);
    header.write('0', 156);
    expect(() => untar(header, tempDir('untar'))).toThrow(/outside its folder: \.\.\/escape\.txt/);
  });
});
