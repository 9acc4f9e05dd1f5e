import { existsSync, readFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { isRecord } from "./render.ts";

export interface Workspace {
  name: string;
  /** Directory relative to the repository root. */
  dir: string;
  dependencies: Set<string>;
  exports: Record<string, string>;
}

/** The npm workspaces of the repository, from the root package.json. */
export function loadWorkspaces(root: string): Map<string, Workspace> {
  const rootManifest = readJson(join(root, "package.json"));
  const dirs =
    isRecord(rootManifest) && Array.isArray(rootManifest.workspaces) ? rootManifest.workspaces : [];
  const out = new Map<string, Workspace>();
  for (const dir of dirs) {
    if (typeof dir !== "string") continue;
    const manifest = readJson(join(root, dir, "package.json"));
    if (!isRecord(manifest) || typeof manifest.name !== "string") continue;
    const dependencies = new Set<string>();
    for (const field of ["dependencies", "optionalDependencies", "peerDependencies"]) {
      const deps = manifest[field];
      if (isRecord(deps)) for (const name of Object.keys(deps)) dependencies.add(name);
    }
    const exports: Record<string, string> = {};
    if (isRecord(manifest.exports)) {
      for (const [key, value] of Object.entries(manifest.exports))
        if (typeof value === "string") exports[key] = value;
    }
    out.set(manifest.name, { name: manifest.name, dir, dependencies, exports });
  }
  return out;
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8"));
}

export interface Closure {
  /** Files (relative to the root) that node loads when it starts from the entries. */
  files: Set<string>;
  /** Workspaces (package names) whose files are loaded. */
  workspaces: Set<string>;
  /** Third-party packages imported at run time, by the workspace that imports them. */
  packages: Set<string>;
  problems: string[];
}

/**
 * Follows every run-time import (static, re-export, side-effect, literal dynamic import; `import type`
 * and `export type` are erased by Node's type stripping and skipped) from the entries, resolving
 * relative paths, `@ostmesh/*` workspaces through their `exports` maps, and third-party packages, which
 * must be declared as dependencies of the importing workspace — so `npm ci --omit=dev -w ...` of the
 * closure's workspaces installs everything the process loads.
 */
export function importClosure(
  root: string,
  entries: readonly string[],
  workspaces = loadWorkspaces(root),
): Closure {
  const closure: Closure = { files: new Set(), workspaces: new Set(), packages: new Set(), problems: [] };
  const queue: { file: string; from: string }[] = [];
  const rootSpace: Workspace = { name: "(root)", dir: ".", dependencies: new Set(), exports: {} };
  for (const entry of entries) {
    if (entry.startsWith(".") || entry.startsWith("/") || entry.includes("/src/")) {
      queue.push({ file: resolve(root, entry), from: "entry" });
    } else {
      const target = resolveSpecifier(root, entry, rootSpace, workspaces, closure, "entry");
      if (target !== undefined) queue.push({ file: target, from: "entry" });
    }
  }
  while (queue.length > 0) {
    const next = queue.shift();
    if (next === undefined) break;
    const rel = relative(root, next.file);
    if (closure.files.has(rel)) continue;
    if (!existsSync(next.file)) {
      closure.problems.push(`${rel} (imported by ${next.from}) does not exist`);
      continue;
    }
    closure.files.add(rel);
    const owner = [...workspaces.values()].find((w) => rel.startsWith(`${w.dir}/`));
    if (owner !== undefined) closure.workspaces.add(owner.name);
    if (!/\.(ts|js|mjs|mts)$/.test(rel)) continue;
    for (const specifier of runtimeSpecifiers(readFileSync(next.file, "utf8"))) {
      if (specifier.startsWith(".")) {
        queue.push({ file: resolve(dirname(next.file), specifier), from: rel });
        continue;
      }
      const target = resolveSpecifier(root, specifier, owner ?? rootSpace, workspaces, closure, rel);
      if (target !== undefined) queue.push({ file: target, from: rel });
    }
  }
  return closure;
}

function resolveSpecifier(
  root: string,
  specifier: string,
  owner: Workspace,
  workspaces: Map<string, Workspace>,
  closure: Closure,
  from: string,
): string | undefined {
  if (specifier.startsWith("node:") || isBuiltin(specifier)) return undefined;
  const parts = specifier.split("/");
  const packageName = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? "");
  const subpath = `.${specifier.slice(packageName.length)}`;
  const workspace = workspaces.get(packageName);
  if (workspace === undefined) {
    if (!owner.dependencies.has(packageName)) {
      closure.problems.push(
        `${from} imports ${packageName}, which ${owner.name} does not declare as a dependency`,
      );
    }
    closure.packages.add(packageName);
    return undefined;
  }
  for (const [pattern, target] of Object.entries(workspace.exports)) {
    if (pattern === subpath) return join(root, workspace.dir, target);
    if (pattern.endsWith("/*") && subpath.startsWith(pattern.slice(0, -1))) {
      return join(root, workspace.dir, target.replace("*", subpath.slice(pattern.length - 1)));
    }
  }
  closure.problems.push(`${from} imports ${specifier}, which ${packageName} does not export`);
  return undefined;
}

/** Module specifiers a file loads at run time. */
export function runtimeSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const out = new Set<string>();
  const statement = /(?:^|[;\n}])\s*(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s*["']([^"']+)["']/g;
  for (const match of code.matchAll(statement)) {
    if (match[2] === undefined && match[4] !== undefined) out.add(match[4]);
  }
  for (const match of code.matchAll(/(?:^|[;\n])\s*import\s*["']([^"']+)["']/g))
    if (match[1]) out.add(match[1]);
  for (const match of code.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g))
    if (match[1]) out.add(match[1]);
  return [...out];
}
