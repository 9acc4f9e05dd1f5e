import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isRecord, type KubeObject } from "./render.ts";
import { modelSpecifier } from "./schema.ts";

/**
 * The OpenAPI schemas compiled into kubernetes-models accept unknown properties (the API server drops
 * them, or refuses them under strict field validation), so a misspelt or misplaced field would pass.
 * This walks each object against the field lists of the same models' type declarations and reports
 * every field the API does not define — what `kubectl apply --validate=strict` would refuse.
 */
export function unknownFields(objects: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  for (const object of objects) {
    const specifier = modelSpecifier(object.apiVersion, object.kind);
    const shape = specifier === undefined ? undefined : shapeOfModule(specifier);
    if (shape === undefined) {
      problems.push(
        `${object.kind}/${object.metadata.name}: no type declaration for ${object.apiVersion} ${object.kind}`,
      );
      continue;
    }
    walk(object, shape, `${object.kind}/${object.metadata.name}:`, problems);
  }
  return problems;
}

type Shape =
  | { kind: "leaf" }
  | { kind: "array"; of: Shape }
  | { kind: "map"; of: Shape }
  | { kind: "object"; fields: Map<string, () => Shape> };

const LEAF: Shape = { kind: "leaf" };

function walk(value: unknown, shape: Shape, path: string, problems: string[]): void {
  if (shape.kind === "leaf") return;
  if (shape.kind === "array") {
    if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) walk(item, shape.of, `${path}[${index}]`, problems);
    }
    return;
  }
  if (!isRecord(value)) return;
  if (shape.kind === "map") {
    for (const [key, item] of Object.entries(value)) walk(item, shape.of, `${path}.${key}`, problems);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const field = shape.fields.get(key);
    if (field === undefined) problems.push(`${path}${path.endsWith(":") ? " " : "."}${key}: unknown field`);
    else walk(item, field(), `${path}${path.endsWith(":") ? " " : "."}${key}`, problems);
  }
}

const fileShapes = new Map<string, Shape>();

function shapeOfModule(specifier: string): Shape | undefined {
  let url: string;
  try {
    url = import.meta.resolve(specifier);
  } catch {
    return undefined;
  }
  return shapeOfFile(fileURLToPath(url).replace(/\.js$/, ".d.ts"));
}

/** The shape of the first interface a declaration file exports; a file of type aliases is a leaf. */
function shapeOfFile(path: string): Shape {
  const cached = fileShapes.get(path);
  if (cached !== undefined) return cached;
  // Registered before parsing so that recursive types (JSONSchemaProps) resolve to the same object.
  const fields = new Map<string, () => Shape>();
  const shape: Shape = { kind: "object", fields };
  fileShapes.set(path, shape);
  let source: string;
  try {
    source = readFileSync(path, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  } catch {
    fileShapes.set(path, LEAF);
    return LEAF;
  }
  const imports = new Map<string, string>();
  for (const match of source.matchAll(/import\s*{([^}]*)}\s*from\s*"([^"]+)"/g)) {
    for (const name of (match[1] ?? "").split(",")) {
      const alias =
        name
          .trim()
          .split(/\s+as\s+/)
          .at(-1) ?? "";
      if (alias !== "") imports.set(alias, match[2] ?? "");
    }
  }
  const start = /export interface \w+(?:\s+extends\s+[\w, ]+)?\s*{/.exec(source);
  if (start === null) {
    fileShapes.set(path, LEAF);
    return LEAF;
  }
  const body = balanced(source, start.index + start[0].length - 1);
  const resolveName = (name: string): (() => Shape) => {
    const from = imports.get(name);
    if (from === undefined) return () => LEAF;
    const target = from.startsWith(".") ? join(dirname(path), from.replace(/\.js$/, ".d.ts")) : undefined;
    return target === undefined ? () => shapeOfModule(from) ?? LEAF : () => shapeOfFile(target);
  };
  for (const [name, type] of members(body)) fields.set(name, typeShape(type, resolveName));
  return shape;
}

/** The text between the brace at `open` and its match. */
function balanced(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error("unbalanced braces in a type declaration");
}

/** `"name"?: Type;` members of an object type body, split at top-level semicolons. */
function members(body: string): [string, string][] {
  const out: [string, string][] = [];
  let depth = 0;
  let current = "";
  for (const char of body) {
    if (char === "{" || char === "<" || char === "(") depth++;
    if (char === "}" || char === ">" || char === ")") depth--;
    if (char === ";" && depth === 0) {
      const match = /^\s*"([^"]+)"\??\s*:\s*([\s\S]+)$/.exec(current);
      if (match !== null) out.push([match[1] ?? "", (match[2] ?? "").trim()]);
      current = "";
    } else current += char;
  }
  return out;
}

function typeShape(type: string, resolveName: (name: string) => () => Shape): () => Shape {
  const array = /^Array<([\s\S]+)>$/.exec(type);
  if (array !== null) {
    const of = typeShape((array[1] ?? "").trim(), resolveName);
    return () => ({ kind: "array", of: of() });
  }
  if (type.startsWith("{") && type.endsWith("}")) {
    const inner = type.slice(1, -1);
    const index = /^\s*\[key: string\]\s*:\s*([\s\S]+?);?\s*$/.exec(inner);
    if (index !== null) {
      const of = typeShape((index[1] ?? "").trim(), resolveName);
      return () => ({ kind: "map", of: of() });
    }
    const fields = new Map<string, () => Shape>();
    for (const [name, fieldType] of members(inner)) fields.set(name, typeShape(fieldType, resolveName));
    return () => ({ kind: "object", fields });
  }
  if (/^[A-Za-z_]\w*$/.test(type)) return resolveName(type);
  return () => LEAF;
}
