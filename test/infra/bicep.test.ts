/**
 * Textual checks on infra/*.bicep. No Bicep compiler can be installed here, so these read the templates as text
 * with a small brace-aware scanner and check the mistakes that matter most in review: role assignment names,
 * shared keys, secrets in outputs, the runtime, app settings, module wiring and the Event Grid targets.
 * Each check runs on the real templates and on a broken snippet, so a check that silently finds nothing fails.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const INFRA = join(ROOT, 'infra');

/** Settings the app reads at start; each must be set by the template. */
const APP_SETTINGS = [
  'AZURE_SUBSCRIPTION_ID',
  'AZURE_RESOURCE_GROUP',
  'AZUREML_WORKSPACE_NAME',
  'AZURE_CLIENT_ID',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'CHAMPION_GIT_SHA',
  'CHAMPION_GIT_REPOSITORY',
  'CHAMPION_POLICIES',
];

// ---------------------------------------------------------------------------------------------------------------
// A minimal Bicep scanner: enough structure to find blocks and keys without being fooled by strings or comments.

/** Replace comments and string contents with spaces (keeping offsets), so braces inside them do not count. */
function mask(src: string): string {
  const out = src.split('');
  let i = 0;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  while (i < src.length) {
    if (src.startsWith('//', i)) {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      blank(i, stop);
      i = stop;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (src.startsWith("'''", i)) {
      const end = src.indexOf("'''", i + 3);
      const stop = end < 0 ? src.length : end + 3;
      blank(i + 3, stop - 3);
      i = stop;
    } else if (src[i] === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== "'") {
        if (src[j] === '\\') j++;
        else if (src.startsWith('${', j)) {
          // Interpolations hold expressions, possibly with their own strings; skip to the matching brace.
          let depth = 0;
          for (; j < src.length; j++) {
            if (src[j] === '{') depth++;
            else if (src[j] === '}' && --depth === 0) break;
          }
        }
        j++;
      }
      blank(i + 1, j);
      i = j + 1;
    } else i++;
  }
  return out.join('');
}

interface Block {
  /** Text between the braces/brackets, original characters. */
  body: string;
  /** Same span with comments and strings blanked. */
  masked: string;
}

function blockFrom(src: string, masked: string, open: number): Block {
  const opener = masked[open];
  const closer = opener === '{' ? '}' : ']';
  let depth = 0;
  for (let i = open; i < masked.length; i++) {
    if (masked[i] === opener) depth++;
    else if (masked[i] === closer && --depth === 0) {
      return { body: src.slice(open + 1, i), masked: masked.slice(open + 1, i) };
    }
  }
  throw new Error(`unbalanced ${opener} at ${open}`);
}

/** Keys at the top level of an object body, with their value text. */
function entries(block: Block): Map<string, string> {
  const result = new Map<string, string>();
  let depth = 0;
  let lineStart = 0;
  let depthAtLineStart = 0;
  const { body, masked } = block;
  for (let i = 0; i <= masked.length; i++) {
    const ch = masked[i];
    if (i === masked.length || ch === '\n') {
      if (depthAtLineStart === 0) {
        const line = body.slice(lineStart, i);
        const m = /^\s*([A-Za-z_][\w-]*|'[^']+')\s*:\s*(.*)$/.exec(line);
        if (m?.[1] !== undefined) {
          const key = m[1].replace(/^'|'$/g, '');
          const valueStart = lineStart + line.indexOf(':') + 1;
          result.set(key, valueText(body, masked, valueStart));
        }
      }
      lineStart = i + 1;
      depthAtLineStart = depth;
    }
    if (ch === '{' || ch === '[' || ch === '(') depth++;
    else if (ch === '}' || ch === ']' || ch === ')') depth--;
  }
  return result;
}

/** A value: to the end of the line, or through its block if it opens one. */
function valueText(body: string, masked: string, start: number): string {
  let i = start;
  while (masked[i] === ' ') i++;
  const lineEnd = masked.indexOf('\n', i) < 0 ? masked.length : masked.indexOf('\n', i);
  const firstOpen = masked.slice(i, lineEnd).search(/[{[]\s*$/);
  if (firstOpen >= 0) {
    const open = i + firstOpen;
    const b = blockFrom(body, masked, open);
    return body.slice(i, open + b.body.length + 2).trim();
  }
  return body.slice(i, lineEnd).trim();
}

function objectBlock(value: string | undefined): Block | undefined {
  if (value === undefined) return undefined;
  const masked = mask(value);
  const open = masked.search(/[{[]/);
  return open < 0 ? undefined : blockFrom(value, masked, open);
}

interface Declaration {
  kind: 'resource' | 'module';
  symbol: string;
  /** Resource type or module path. */
  target: string;
  apiVersion?: string;
  existing: boolean;
  block: Block;
  props: Map<string, string>;
}

function declarations(src: string): Declaration[] {
  const masked = mask(src);
  const found: Declaration[] = [];
  const re = /^(resource|module)\s+(\w+)\s+'([^']+)'(\s+existing)?\s*=/gm;
  for (const m of src.matchAll(re)) {
    const open = masked.indexOf('{', (m.index ?? 0) + m[0].length);
    const block = blockFrom(src, masked, open);
    const [target, apiVersion] = (m[3] ?? '').split('@');
    found.push({
      kind: m[1] as 'resource' | 'module',
      symbol: m[2] ?? '',
      target: target ?? '',
      ...(m[1] === 'resource' && apiVersion !== undefined && { apiVersion }),
      existing: m[4] !== undefined,
      block,
      props: entries(block),
    });
  }
  return found;
}

function params(src: string): Map<string, { hasDefault: boolean }> {
  const result = new Map<string, { hasDefault: boolean }>();
  for (const m of src.matchAll(/^param\s+(\w+)\s+\w+(\s*=)?/gm)) {
    result.set(m[1] ?? '', { hasDefault: m[2] !== undefined });
  }
  return result;
}

function outputs(src: string): { name: string; type: string; value: string }[] {
  return [...src.matchAll(/^output\s+(\w+)\s+(\w+)\s*=\s*(.+)$/gm)].map((m) => ({
    name: m[1] ?? '',
    type: m[2] ?? '',
    value: m[3] ?? '',
  }));
}

function variableBlock(src: string, name: string): Block | undefined {
  const masked = mask(src);
  const m = new RegExp(`^var\\s+${name}\\s*=\\s*`, 'm').exec(masked);
  if (!m) return undefined;
  return blockFrom(src, masked, m.index + m[0].length);
}

/** Split a call's argument list at top-level commas. */
function callArgs(call: string): string[] {
  const masked = mask(call);
  const open = masked.indexOf('(');
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < masked.length; i++) {
    const ch = masked[i];
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') {
      if (--depth === 0) {
        args.push(call.slice(start, i).trim());
        break;
      }
    } else if (ch === ',' && depth === 1) {
      args.push(call.slice(start, i).trim());
      start = i + 1;
    }
  }
  return args.filter((a) => a !== '');
}

// ---------------------------------------------------------------------------------------------------------------
// Checks. Each returns a list of problems; the real templates must have none.

type Files = Record<string, string>;

function roleAssignmentProblems(files: Files): string[] {
  const problems: string[] = [];
  for (const [file, src] of Object.entries(files)) {
    for (const d of declarations(src)) {
      if (d.target !== 'Microsoft.Authorization/roleAssignments' || d.existing) continue;
      const name = d.props.get('name') ?? '';
      if (!/^guid\(/.test(name)) problems.push(`${file}: ${d.symbol} is not named with guid(): ${name}`);
      else if (callArgs(name).length < 3) problems.push(`${file}: ${d.symbol} guid() needs scope, principal and role`);
      if (!d.props.has('scope')) problems.push(`${file}: ${d.symbol} has no explicit scope`);
      const props = objectBlock(d.props.get('properties'));
      const inner = props ? entries(props) : new Map<string, string>();
      if (inner.get('principalType') !== "'ServicePrincipal'") {
        problems.push(
          `${file}: ${d.symbol} should set principalType 'ServicePrincipal' (new identities replicate late)`,
        );
      }
      if (!inner.has('roleDefinitionId')) problems.push(`${file}: ${d.symbol} has no roleDefinitionId`);
    }
    for (const d of declarations(src)) {
      if (d.target === 'Microsoft.Authorization/roleDefinitions' && !/^guid\(/.test(d.props.get('name') ?? '')) {
        problems.push(`${file}: ${d.symbol} role definition is not named with guid()`);
      }
    }
  }
  return problems;
}

function sharedKeyProblems(files: Files): string[] {
  const problems: string[] = [];
  for (const [file, src] of Object.entries(files)) {
    const code = mask(src);
    if (/allowSharedKeyAccess\s*:\s*true/.test(src)) problems.push(`${file}: allowSharedKeyAccess: true`);
    if (/\blistKeys\s*\(|\.listKeys\s*\(|listAccountSas|listServiceSas/i.test(code)) {
      problems.push(`${file}: reads account keys or SAS`);
    }
    if (/AccountKey=|SharedAccessSignature=/i.test(src)) problems.push(`${file}: key-based connection string`);
    for (const d of declarations(src)) {
      if (d.target !== 'Microsoft.Storage/storageAccounts' || d.existing) continue;
      const props = objectBlock(d.props.get('properties'));
      if (!props || entries(props).get('allowSharedKeyAccess') !== 'false') {
        problems.push(`${file}: ${d.symbol} must set allowSharedKeyAccess: false`);
      }
    }
  }
  return problems;
}

const SECRET_WORDS = /key|secret|password|connectionstring|sas\b|token|credential|listkeys/i;
function outputProblems(files: Files): string[] {
  const problems: string[] = [];
  for (const [file, src] of Object.entries(files)) {
    for (const o of outputs(src)) {
      if (SECRET_WORDS.test(o.name) || SECRET_WORDS.test(o.value)) {
        problems.push(`${file}: output ${o.name} looks like a secret: ${o.value}`);
      }
    }
  }
  return problems;
}

function runtimeProblems(src: string): string[] {
  const problems: string[] = [];
  const decls = declarations(src);
  const plan = decls.find((d) => d.target === 'Microsoft.Web/serverfarms');
  const sku = entries(objectBlock(plan?.props.get('sku')) ?? { body: '', masked: '' });
  if (sku.get('tier') !== "'FlexConsumption'" || sku.get('name') !== "'FC1'")
    problems.push('plan is not FlexConsumption FC1');
  const site = decls.find((d) => d.target === 'Microsoft.Web/sites');
  const siteProps = entries(objectBlock(site?.props.get('properties')) ?? { body: '', masked: '' });
  const config = entries(objectBlock(siteProps.get('functionAppConfig')) ?? { body: '', masked: '' });
  const runtime = entries(objectBlock(config.get('runtime')) ?? { body: '', masked: '' });
  if (runtime.get('name') !== "'node'") problems.push(`runtime name is ${runtime.get('name')}`);
  if (runtime.get('version') !== "'22'") problems.push(`runtime version is ${runtime.get('version')}`);
  if (/linuxFxVersion/i.test(mask(src))) problems.push('linuxFxVersion is not used on Flex Consumption');
  return problems;
}

function appSettingProblems(mainSrc: string, required: readonly string[]): string[] {
  const block = variableBlock(mainSrc, 'appSettings');
  if (!block) return ['main.bicep has no appSettings variable'];
  const settings = entries(block);
  const problems = required.filter((k) => !settings.has(k)).map((k) => `app setting ${k} is not set`);
  for (const [k, v] of settings) if (v === "''" || v === '') problems.push(`app setting ${k} is empty`);
  // Flex Consumption deprecates these: the platform sets the host version and reads the runtime from
  // functionAppConfig. Setting them is at best ignored.
  for (const k of ['FUNCTIONS_EXTENSION_VERSION', 'FUNCTIONS_WORKER_RUNTIME', 'WEBSITE_RUN_FROM_PACKAGE']) {
    if (settings.has(k)) problems.push(`${k} must not be set on Flex Consumption`);
  }
  if (settings.has('AzureWebJobsStorage'))
    problems.push('AzureWebJobsStorage must be identity-based, not a connection string');
  if (settings.get('AzureWebJobsStorage__credential') !== "'managedidentity'") {
    problems.push('AzureWebJobsStorage__credential must be managedidentity');
  }
  for (const service of ['blob', 'queue', 'table']) {
    if (!settings.has(`AzureWebJobsStorage__${service}ServiceUri`)) {
      problems.push(`AzureWebJobsStorage__${service}ServiceUri is needed by Durable Functions`);
    }
  }
  if (!settings.has('AzureWebJobsStorage__clientId'))
    problems.push('a user-assigned identity needs AzureWebJobsStorage__clientId');
  return problems;
}

function moduleProblems(files: Files): string[] {
  const problems: string[] = [];
  for (const [file, src] of Object.entries(files)) {
    for (const d of declarations(src)) {
      if (d.kind !== 'module') continue;
      if (/^(br|ts)[:/]/.test(d.target)) continue;
      const path = join(dirname(join(INFRA, file)), d.target);
      if (!existsSync(path)) {
        problems.push(`${file}: module ${d.symbol} → ${d.target} does not exist`);
        continue;
      }
      const declared = params(readFileSync(path, 'utf8'));
      const given = entries(objectBlock(d.props.get('params')) ?? { body: '', masked: '' });
      for (const k of given.keys())
        if (!declared.has(k)) problems.push(`${file}: ${d.symbol} passes unknown param ${k}`);
      for (const [k, p] of declared) {
        if (!p.hasDefault && !given.has(k)) problems.push(`${file}: ${d.symbol} misses required param ${k}`);
      }
    }
  }
  return problems;
}

function parameterFileProblems(mainSrc: string, json: string): string[] {
  let parsed: { parameters?: Record<string, { value?: unknown }> };
  try {
    parsed = JSON.parse(json) as typeof parsed;
  } catch (err) {
    return [`main.parameters.json is not JSON: ${(err as Error).message}`];
  }
  const declared = params(mainSrc);
  const given = parsed.parameters ?? {};
  const problems = Object.keys(given)
    .filter((k) => !declared.has(k))
    .map((k) => `main.parameters.json sets ${k}, which main.bicep does not declare`);
  for (const [k, p] of declared) if (!p.hasDefault && !(k in given)) problems.push(`main.parameters.json misses ${k}`);
  for (const [k, v] of Object.entries(given)) {
    const value = v.value;
    if (typeof value === 'string' && value.includes('${') && !/^\$\{[A-Z][A-Z0-9_]*(=[^}]*)?\}$/.test(value)) {
      problems.push(`main.parameters.json ${k}: malformed azd placeholder ${value}`);
    }
  }
  return problems;
}

interface SubscriptionTarget {
  functionName: string;
  eventTypes: string[];
}

/** The (function, event types) pairs the Event Grid module subscribes, or problems if it is not wired as expected. */
function eventSubscriptionTargets(src: string): { targets: SubscriptionTarget[]; problems: string[] } {
  const problems: string[] = [];
  const list = variableBlock(src, 'subscriptions');
  const targets: SubscriptionTarget[] = [];
  if (!list) return { targets, problems: ['event-grid.bicep has no subscriptions variable'] };
  const masked = list.masked;
  for (let i = 0; i < masked.length; i++) {
    if (masked[i] !== '{') continue;
    const item = blockFrom(list.body, masked, i);
    const e = entries(item);
    targets.push({
      functionName: (e.get('functionName') ?? '').replace(/'/g, ''),
      eventTypes: [...(e.get('includedEventTypes') ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1] ?? ''),
    });
    i += item.body.length + 1;
  }
  const sub = declarations(src).find((d) => d.target === 'Microsoft.EventGrid/systemTopics/eventSubscriptions');
  if (!sub) problems.push('no Microsoft.EventGrid/systemTopics/eventSubscriptions resource');
  else {
    if (!/for\s+sub\s+in\s+subscriptions/.test(src))
      problems.push('event subscriptions do not iterate the subscriptions variable');
    if (!/endpointType:\s*'AzureFunction'/.test(sub.block.body))
      problems.push('destination is not an AzureFunction endpoint');
    if (!sub.block.body.includes("'${functionAppId}/functions/${sub.functionName}'")) {
      problems.push('destination does not target functionAppId/functions/<functionName>');
    }
  }
  const topic = declarations(src).find((d) => d.target === 'Microsoft.EventGrid/systemTopics' && !d.existing);
  const topicProps = entries(objectBlock(topic?.props.get('properties')) ?? { body: '', masked: '' });
  if (topicProps.get('topicType') !== "'Microsoft.MachineLearningServices.Workspaces'") {
    problems.push('system topic is not of type Microsoft.MachineLearningServices.Workspaces');
  }
  return { targets, problems };
}

function previewApiProblems(files: Files): string[] {
  return Object.entries(files).flatMap(([file, src]) =>
    declarations(src)
      .filter((d) => d.kind === 'resource' && /preview/i.test(d.apiVersion ?? ''))
      .map((d) => `${file}: ${d.symbol} uses a preview API version ${d.apiVersion}`),
  );
}

// ---------------------------------------------------------------------------------------------------------------

function loadInfra(): Files {
  const files: Files = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.bicep')) files[relative(INFRA, full)] = readFileSync(full, 'utf8');
    }
  };
  walk(INFRA);
  return files;
}

const files = loadInfra();
const main = files['main.bicep'] ?? '';
const eventGridFile = Object.entries(files).find(([, src]) => src.includes('Microsoft.EventGrid/systemTopics@'));

describe('infra templates (textual checks)', () => {
  it('finds the templates and their structure', () => {
    expect(Object.keys(files)).toContain('main.bicep');
    const all = Object.values(files).flatMap((src) => declarations(src));
    expect(all.filter((d) => d.target === 'Microsoft.Authorization/roleAssignments').length).toBeGreaterThanOrEqual(3);
    expect(all.filter((d) => d.kind === 'module').length).toBeGreaterThanOrEqual(4);
    expect(eventGridFile).toBeDefined();
  });

  type Check = [string, () => string[]];
  const checks: Check[] = [
    ['every role assignment is named with guid(scope, principal, role)', () => roleAssignmentProblems(files)],
    ['no shared-key access and no account keys anywhere', () => sharedKeyProblems(files)],
    ['no secrets or keys in outputs', () => outputProblems(files)],
    [
      'Flex Consumption with Node 22',
      () => runtimeProblems(Object.values(files).find((s) => s.includes("'Microsoft.Web/sites@")) ?? ''),
    ],
    [
      'every app setting the app reads is set, with identity-based storage',
      () => appSettingProblems(main, APP_SETTINGS),
    ],
    ['every module path exists and its params match', () => moduleProblems(files)],
    [
      'main.parameters.json matches main.bicep',
      () => parameterFileProblems(main, readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')),
    ],
    ['no preview API versions', () => previewApiProblems(files)],
    [
      'the Event Grid module is wired to Function endpoints',
      () => eventSubscriptionTargets(eventGridFile?.[1] ?? '').problems,
    ],
  ];
  it.each(checks)('%s', (_name, check) => {
    expect(check()).toEqual([]);
  });

  it('event subscriptions target onModelRegistered and onDriftDetected with the right event types', () => {
    const { targets } = eventSubscriptionTargets(eventGridFile?.[1] ?? '');
    const byFunction = Object.fromEntries(targets.map((t) => [t.functionName, [...t.eventTypes].sort()]));
    expect(byFunction).toEqual({
      onModelRegistered: ['Microsoft.MachineLearningServices.ModelRegistered'],
      onDriftDetected: [
        'Microsoft.MachineLearningServices.DatasetDriftDetected',
        'Microsoft.MachineLearningServices.RunStatusChanged',
      ],
    });
  });

  it('the Functions host and Durable Functions get blob, queue and table roles; the app gets a workspace role', () => {
    const text = Object.values(files).join('\n');
    for (const role of [
      'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', // Storage Blob Data Owner
      '974c5e8b-45b9-4653-ba55-5f855dd0fb88', // Storage Queue Data Contributor
      '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', // Storage Table Data Contributor
      'f6c7c914-8db3-469d-8ca1-694a8f32e121', // AzureML Data Scientist
    ]) {
      expect(text).toContain(role);
    }
  });

  it('the settings the local sample configures are also set in Azure', () => {
    const sample = join(ROOT, 'local.settings.sample.json');
    const local = existsSync(sample)
      ? Object.keys((JSON.parse(readFileSync(sample, 'utf8')) as { Values?: object }).Values ?? {})
      : [];
    const hostOnly = new Set(['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage']);
    expect(appSettingProblems(main, [...APP_SETTINGS, ...local.filter((k) => !hostOnly.has(k))])).toEqual([]);
  });

  it('the README documents the first deployment and the deploy-twice check', () => {
    const readme = readFileSync(join(INFRA, 'README.md'), 'utf8');
    expect(readme).toMatch(/what-if/);
    expect(readme).toMatch(/deployEventSubscriptions=true/);
    expect(readme).toMatch(/DEPLOY_EVENT_SUBSCRIPTIONS/);
  });
});

describe('the checks catch broken templates', () => {
  const broken: [string, () => string[], RegExp][] = [
    [
      'a role assignment with a fixed name',
      () =>
        roleAssignmentProblems({
          'x.bicep': `resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: 'storage-owner'
  scope: account
  properties: {
    roleDefinitionId: r
    principalId: p
    principalType: 'ServicePrincipal'
  }
}`,
        }),
      /not named with guid/,
    ],
    [
      'a guid() over the scope only',
      () =>
        roleAssignmentProblems({
          'x.bicep': `resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id)
  scope: account
  properties: {
    roleDefinitionId: r
    principalId: p
  }
}`,
        }),
      /needs scope, principal and role|principalType/,
    ],
    [
      'shared keys enabled',
      () =>
        sharedKeyProblems({
          'x.bicep': `resource s 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'x'
  properties: {
    allowSharedKeyAccess: true
  }
}`,
        }),
      /allowSharedKeyAccess/,
    ],
    [
      'a key-based connection string',
      () =>
        sharedKeyProblems({
          'x.bicep':
            "var c = 'DefaultEndpointsProtocol=https;AccountName=${s.name};AccountKey=${s.listKeys().keys[0].value}'",
        }),
      /key-based connection string/,
    ],
    [
      'a storage account that does not disable shared keys',
      () =>
        sharedKeyProblems({
          'x.bicep': `resource s 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'x'
  properties: {
    minimumTlsVersion: 'TLS1_2' // allowSharedKeyAccess: false
  }
}`,
        }),
      /must set allowSharedKeyAccess: false/,
    ],
    [
      'a connection string output',
      () => outputProblems({ 'x.bicep': 'output cs string = appInsights.properties.ConnectionString' }),
      /looks like a secret/,
    ],
    [
      'Node 20',
      () =>
        runtimeProblems(`resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
}
resource site 'Microsoft.Web/sites@2024-04-01' = {
  properties: {
    functionAppConfig: {
      runtime: {
        name: 'node'
        version: '20'
      }
    }
  }
}`),
      /runtime version is '20'/,
    ],
    [
      'a missing app setting and a deprecated one',
      () =>
        appSettingProblems(
          `var appSettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  AzureWebJobsStorage__credential: 'managedidentity'
}`,
          ['CHAMPION_POLICIES'],
        ),
      /CHAMPION_POLICIES is not set|FUNCTIONS_EXTENSION_VERSION must not be set/,
    ],
    [
      'a module path that does not exist',
      () => moduleProblems({ 'main.bicep': "module m 'modules/nope.bicep' = {\n  name: 'm'\n  params: {}\n}" }),
      /does not exist/,
    ],
    [
      'a module given an unknown parameter',
      () =>
        moduleProblems({
          'main.bicep': "module m 'modules/monitoring.bicep' = {\n  name: 'm'\n  params: {\n    colour: 'blue'\n  }\n}",
        }),
      /unknown param colour|misses required param/,
    ],
    [
      'a parameters file naming an undeclared parameter',
      () => parameterFileProblems('param a string', '{"parameters": {"b": {"value": "${B"}}}'),
      /does not declare|misses a/,
    ],
    [
      'a subscription pointing at a misspelt function',
      () =>
        eventSubscriptionTargets(`var subscriptions = [
  {
    functionName: 'onModelRegistred'
    includedEventTypes: ['Microsoft.MachineLearningServices.ModelRegistered']
  }
]`).problems,
      /no Microsoft.EventGrid\/systemTopics\/eventSubscriptions resource/,
    ],
    [
      'a preview API version',
      () =>
        previewApiProblems({ 'x.bicep': "resource t 'Microsoft.EventGrid/systemTopics@2023-12-15-preview' = {\n}" }),
      /preview API version/,
    ],
  ];
  it.each(broken)('%s', (_name, check, problem) => {
    const problems = check();
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(problem);
  });

  it('a misspelt function name is visible in the parsed targets', () => {
    const { targets } = eventSubscriptionTargets(`var subscriptions = [
  {
    name: 'x'
    functionName: 'onModelRegistred'
    includedEventTypes: ['Microsoft.MachineLearningServices.ModelRegistered']
  }
]`);
    expect(targets.map((t) => t.functionName)).toEqual(['onModelRegistred']);
  });

  it('the scanner ignores braces and keys inside strings and comments', () => {
    const src = `var appSettings = {
  A: '{not a block}' // B: 'commented out'
  /* C: 'also commented' */
  D: 'x \${'}'} y'
}`;
    expect([...entries(variableBlock(src, 'appSettings') ?? { body: '', masked: '' }).keys()]).toEqual(['A', 'D']);
  });
});
