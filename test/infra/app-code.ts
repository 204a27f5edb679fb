/**
 * What the app's own code needs of its deployment, read from its TypeScript syntax trees: the settings it reads, the
 * functions it registers (with their triggers) and the ARM calls it makes. The infra tests hold the templates to
 * these, so a new setting, trigger or call that the templates do not cover fails a test.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export const ROOT = join(__dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) files.push(full);
    }
  };
  walk(dir);
  return files.sort();
}

function parse(file: string, text = readFileSync(file, 'utf8')): ts.SourceFile {
  return ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
}

function visit(node: ts.Node, fn: (n: ts.Node) => void): void {
  fn(node);
  node.forEachChild((c) => visit(c, fn));
}

function literal(node: ts.Node | undefined): string | undefined {
  return node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;
}

/** Names of the settings the deployed code reads: the keys of `settingsSchema` and every `process.env.X`. */
export function settingsRead(
  files = ['functions', 'lib', 'orchestrations'].flatMap((d) => sourceFiles(join(ROOT, d))),
): string[] {
  const names = new Set<string>();
  for (const file of files) {
    visit(parse(file), (n) => {
      if (
        ts.isVariableDeclaration(n) &&
        n.name.getText() === 'settingsSchema' &&
        n.initializer &&
        ts.isCallExpression(n.initializer)
      ) {
        const shape = n.initializer.arguments[0];
        if (shape && ts.isObjectLiteralExpression(shape)) {
          for (const p of shape.properties) if (p.name) names.add(p.name.getText().replace(/['"]/g, ''));
        }
      }
      if (ts.isPropertyAccessExpression(n) && n.expression.getText() === 'process.env') names.add(n.name.text);
      if (ts.isElementAccessExpression(n) && n.expression.getText() === 'process.env') {
        const key = literal(n.argumentExpression);
        if (key) names.add(key);
      }
    });
  }
  return [...names].sort();
}

export interface Registration {
  name: string;
  /** The registration method: eventGrid, http, timer, orchestration, activity, entity, … */
  trigger: string;
  file: string;
}

const REGISTRARS = /^(app|df\.app|df\.app\.client)$/;

/** Functions registered with a literal name (`app.http('x', …)`, `df.app.client.eventGrid('y', …)`). */
export function registeredFunctions(source?: { file: string; text: string }[]): Registration[] {
  const inputs =
    source ?? sourceFiles(join(ROOT, 'functions')).map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  const found: Registration[] = [];
  for (const { file, text } of inputs) {
    visit(parse(file, text), (n) => {
      if (!ts.isCallExpression(n) || !ts.isPropertyAccessExpression(n.expression)) return;
      if (!REGISTRARS.test(n.expression.expression.getText())) return;
      const name = literal(n.arguments[0]);
      if (name) found.push({ name, trigger: n.expression.name.text, file: relative(ROOT, file) });
    });
  }
  return found;
}

/**
 * ARM calls in the Azure adapters, in a canonical form:
 * - `group.method` for the typed SDK client (`this.client.modelVersions.get(…)`);
 * - `send METHOD resource` for raw requests through the same pipeline (`this.#send('PUT', `/jobs/…`)`);
 * - `sendRequest in method` for requests to a URL the service gave (operation status, MLflow tracking).
 */
export function armCalls(source?: { file: string; text: string }[]): { call: string; file: string }[] {
  const inputs =
    source ??
    sourceFiles(join(ROOT, 'lib'))
      .map((file) => ({ file, text: readFileSync(file, 'utf8') }))
      // The ARM adapters are the files that hold the Azure ML management client.
      .filter(({ text }) => text.includes("from '@azure/arm-machinelearning'"));
  const calls: { call: string; file: string }[] = [];
  for (const { file, text } of inputs) {
    const rel = relative(ROOT, file);
    visit(parse(file, text), (n) => {
      if (!ts.isCallExpression(n) || !ts.isPropertyAccessExpression(n.expression)) return;
      const callee = n.expression;
      const target = callee.expression.getText();
      // this.client.<group>.<method>(…)
      if (
        ts.isPropertyAccessExpression(callee.expression) &&
        /^this\.client$|^client$/.test(callee.expression.expression.getText()) &&
        /^(get|list|create|update|delete|begin|cancel)/.test(callee.name.text)
      ) {
        calls.push({ call: `${callee.expression.name.text}.${callee.name.text}`, file: rel });
        return;
      }
      if (/^this\.client$|^client$/.test(target) && callee.name.text === 'sendRequest') {
        let fn: ts.Node | undefined = n.parent;
        while (fn && !ts.isMethodDeclaration(fn) && !ts.isFunctionDeclaration(fn)) fn = fn.parent;
        const method = fn && (ts.isMethodDeclaration(fn) || ts.isFunctionDeclaration(fn)) ? fn.name?.getText() : '?';
        calls.push({ call: `sendRequest in ${method}`, file: rel });
        return;
      }
      if (target === 'this' && callee.name.text === '#send') {
        const method = literal(n.arguments[0]) ?? '?';
        const path = n.arguments[1];
        let resource = '?';
        if (path && ts.isCallExpression(path)) resource = path.expression.getText();
        else if (path && (ts.isTemplateExpression(path) || ts.isNoSubstitutionTemplateLiteral(path))) {
          const head = ts.isTemplateExpression(path) ? path.head.text : path.text;
          resource = head.replace(/^\/+|\/+$/g, '').split('/')[0] ?? '?';
        }
        calls.push({ call: `send ${method} ${resource}`, file: rel });
      }
    });
  }
  return calls;
}
