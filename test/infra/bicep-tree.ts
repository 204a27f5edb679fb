/**
 * Bicep read with a real parser: the tree-sitter-bicep grammar (its wasm build) loaded by web-tree-sitter. No Bicep
 * compiler can run in these tests, so this is the next best thing: a full syntax tree, on which the infra tests
 * check what a compiler would not (settings, roles, event targets) and fail on any ERROR or MISSING node.
 *
 * The grammar's ABI must be one web-tree-sitter loads (`Language.abiVersion`); a mismatch fails `loadBicepParser`.
 */
import { createRequire } from 'node:module';
import { Language, Parser, type Node } from 'web-tree-sitter';

export type { Node };

const requireHere = createRequire(__filename);

let parserPromise: Promise<Parser> | undefined;

/** One parser for the whole run; the wasm is loaded once. */
export function loadBicepParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const language = await Language.load(requireHere.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'));
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return parserPromise;
}

export function parseBicep(parser: Parser, source: string): Node {
  const tree = parser.parse(source);
  if (!tree) throw new Error('tree-sitter returned no tree');
  return tree.rootNode;
}

/** Every ERROR or MISSING node, as `line:column: what`. */
export function syntaxProblems(root: Node, expected: (node: Node) => boolean = () => false): string[] {
  const problems: string[] = [];
  const walk = (node: Node) => {
    if ((node.isError || node.isMissing) && !expected(node)) {
      const at = `${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
      problems.push(
        node.isMissing
          ? `${at}: missing ${node.type}`
          : `${at}: cannot parse ${JSON.stringify(node.text.slice(0, 60))}`,
      );
    }
    for (const child of node.children) walk(child);
  };
  walk(root);
  return problems;
}

/** A string literal's value, or undefined when it is not a plain string (an interpolation, an expression). */
export function stringValue(node: Node | null | undefined): string | undefined {
  if (node?.type !== 'string') return undefined;
  if (node.namedChildren.some((c) => c.type === 'interpolation')) return undefined;
  return node.namedChildren
    .map((c) => (c.type === 'escape_sequence' ? unescape(c.text) : c.type === 'string_content' ? c.text : ''))
    .join('');
}

function unescape(seq: string): string {
  const map: Record<string, string> = { "\\'": "'", '\\\\': '\\', '\\n': '\n', '\\r': '\r', '\\t': '\t', '\\$': '$' };
  return map[seq] ?? seq;
}

/** The key of an object property: an identifier or a quoted name. */
function propertyKey(prop: Node): string | undefined {
  const key = prop.namedChildren[0];
  if (!key) return undefined;
  return key.type === 'string' ? stringValue(key) : key.text;
}

/** An object's properties, in order (the value is the node after the key). */
export function properties(obj: Node | null | undefined): Map<string, Node> {
  const result = new Map<string, Node>();
  if (obj?.type !== 'object') return result;
  for (const prop of obj.namedChildren) {
    if (prop.type !== 'object_property') continue;
    const key = propertyKey(prop);
    const value = prop.namedChildren[1];
    if (key !== undefined && value) result.set(key, value);
  }
  return result;
}

/** Follow property keys through nested objects: `prop(body, 'properties', 'siteConfig')`. */
export function prop(obj: Node | null | undefined, ...path: string[]): Node | undefined {
  let node: Node | undefined = obj ?? undefined;
  for (const key of path) {
    node = properties(node).get(key);
    if (!node) return undefined;
  }
  return node;
}

/** The items of an array literal. */
export function arrayItems(node: Node | null | undefined): Node[] {
  return node?.type === 'array' ? node.namedChildren.filter((c) => c.type !== 'comment') : [];
}

export interface Decorator {
  name: string;
  args: Node[];
}

/** Decorators written above a declaration (`@description('…')`, `@sys.description('…')`, `@secure()`). */
export function decoratorsOf(decl: Node): Decorator[] {
  let prev = decl.previousNamedSibling;
  while (prev?.type === 'comment' || prev?.type === 'diagnostic_comment') prev = prev.previousNamedSibling;
  if (prev?.type !== 'decorators') return [];
  return prev.namedChildren
    .filter((d) => d.type === 'decorator')
    .map((d) => {
      const call = d.namedChildren[0];
      const fn = call?.childForFieldName('function');
      const name = fn?.type === 'member_expression' ? (fn.childForFieldName('property')?.text ?? '') : (fn?.text ?? '');
      const args = call?.childForFieldName('arguments')?.namedChildren ?? [];
      return { name, args };
    });
}

export interface Param {
  name: string;
  node: Node;
  type: string;
  default?: Node;
  decorators: Decorator[];
}

export function params(root: Node): Param[] {
  return root.namedChildren
    .filter((n) => n.type === 'parameter_declaration')
    .map((n) => {
      const [name, type, value] = n.namedChildren;
      return {
        name: name?.text ?? '',
        node: n,
        type: type?.text ?? '',
        ...(value && { default: value }),
        decorators: decoratorsOf(n),
      };
    });
}

export interface Output {
  name: string;
  node: Node;
  type: string;
  value?: Node;
  decorators: Decorator[];
}

export function outputs(root: Node): Output[] {
  return root.namedChildren
    .filter((n) => n.type === 'output_declaration')
    .map((n) => {
      const [name, type, value] = n.namedChildren;
      return {
        name: name?.text ?? '',
        node: n,
        type: type?.text ?? '',
        ...(value && { value }),
        decorators: decoratorsOf(n),
      };
    });
}

/** Top-level `var name = value`. */
export function variables(root: Node): Map<string, Node> {
  const result = new Map<string, Node>();
  for (const n of root.namedChildren) {
    if (n.type !== 'variable_declaration') continue;
    const [name, value] = n.namedChildren;
    if (name && value) result.set(name.text, value);
  }
  return result;
}

export interface Declaration {
  kind: 'resource' | 'module';
  symbol: string;
  node: Node;
  /** Resource type (without the version) or module path. */
  target: string;
  apiVersion?: string;
  existing: boolean;
  /** The declaration's object body, through any `if (…)` and `[for …]`. */
  body?: Node;
  condition?: Node;
  loop?: Node;
  decorators: Decorator[];
}

export function declarations(root: Node): Declaration[] {
  const found: Declaration[] = [];
  for (const n of root.namedChildren) {
    if (n.type !== 'resource_declaration' && n.type !== 'module_declaration') continue;
    const [symbol, typeNode] = n.namedChildren;
    const spec = stringValue(typeNode) ?? '';
    const kind = n.type === 'resource_declaration' ? 'resource' : 'module';
    const [target, apiVersion] = kind === 'resource' ? spec.split('@') : [spec];
    let value: Node | undefined = n.namedChildren[2];
    let loop: Node | undefined;
    let condition: Node | undefined;
    if (value?.type === 'for_statement') {
      loop = value;
      value = value.childForFieldName('body') ?? undefined;
    }
    if (value?.type === 'if_statement') {
      condition = value.namedChildren[0];
      value = value.namedChildren[1];
    }
    found.push({
      kind,
      symbol: symbol?.text ?? '',
      node: n,
      target: target ?? '',
      ...(apiVersion !== undefined && { apiVersion }),
      existing: n.children.some((c) => !c.isNamed && c.type === 'existing'),
      ...(value?.type === 'object' && { body: value }),
      ...(condition && { condition }),
      ...(loop && { loop }),
      decorators: decoratorsOf(n),
    });
  }
  return found;
}

/** Every node below (and including) `node` of one of the given types. */
export function descendants(node: Node, ...types: string[]): Node[] {
  const result: Node[] = [];
  const walk = (n: Node) => {
    if (types.includes(n.type)) result.push(n);
    for (const c of n.namedChildren) walk(c);
  };
  walk(node);
  return result;
}

/** A call's function name and arguments, when `node` is a call of a plain function (`guid(…)`). */
export function callOf(node: Node | null | undefined): { name: string; args: Node[] } | undefined {
  if (node?.type !== 'call_expression') return undefined;
  const fn = node.childForFieldName('function');
  const args = node.childForFieldName('arguments')?.namedChildren.filter((c) => c.type !== 'comment') ?? [];
  return { name: fn?.text ?? '', args };
}

/** Identifiers an expression refers to (not property names after a dot). */
export function identifiersIn(node: Node): Set<string> {
  const names = new Set<string>();
  for (const id of descendants(node, 'identifier')) names.add(id.text);
  return names;
}
