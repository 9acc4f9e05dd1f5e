import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";

const run = promisify(execFile);

/** A rendered Kubernetes object before schema validation: only its type and name are known. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** The kubectl binary that renders kustomizations (`KUBECTL` overrides the one on PATH). */
export function kubectlPath(): string {
  return process.env.KUBECTL ?? "kubectl";
}

/**
 * Renders a kustomization directory exactly as `kubectl apply -k` would, with the kustomize that ships
 * inside kubectl. Throws with kustomize's own message when the kustomization does not build.
 */
export async function renderKustomization(dir: string): Promise<KubeObject[]> {
  let stdout: string;
  try {
    ({ stdout } = await run(kubectlPath(), ["kustomize", dir], { maxBuffer: 64 * 1024 * 1024 }));
  } catch (error) {
    const stderr = isRecord(error) && typeof error.stderr === "string" ? error.stderr.trim() : "";
    const reason = stderr || (error instanceof Error ? error.message : String(error));
    throw new Error(`kustomize build of ${dir} failed: ${reason}`);
  }
  return parseManifests(stdout, dir);
}

/** Parses a multi-document YAML stream into Kubernetes objects; every document must be an object. */
export function parseManifests(text: string, source: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const [index, document] of parseAllDocuments(text).entries()) {
    if (document.errors.length > 0) {
      throw new Error(`${source}: YAML document ${index + 1}: ${document.errors[0]?.message}`);
    }
    const value: unknown = document.toJS();
    if (value === null || value === undefined) continue;
    objects.push(toKubeObject(value, `${source}: document ${index + 1}`));
  }
  return objects;
}

function toKubeObject(value: unknown, where: string): KubeObject {
  if (!isRecord(value)) throw new Error(`${where} is not a mapping`);
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== "string" || apiVersion === "") throw new Error(`${where} has no apiVersion`);
  if (typeof kind !== "string" || kind === "") throw new Error(`${where} has no kind`);
  if (!isRecord(metadata) || typeof metadata.name !== "string" || metadata.name === "") {
    throw new Error(`${where} (${kind}) has no metadata.name`);
  }
  const labels = metadata.labels === undefined ? undefined : stringMap(metadata.labels, `${where} labels`);
  const namespace = typeof metadata.namespace === "string" ? metadata.namespace : undefined;
  return {
    ...value,
    apiVersion,
    kind,
    metadata: {
      ...metadata,
      name: metadata.name,
      ...(namespace === undefined ? {} : { namespace }),
      ...(labels === undefined ? {} : { labels }),
    },
  };
}

function stringMap(value: unknown, where: string): Record<string, string> {
  if (!isRecord(value)) throw new Error(`${where} is not a mapping`);
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== "string") throw new Error(`${where}: ${key} is not a string`);
    out[key] = entry;
  }
  return out;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `Kind/name` — how problems name an object. */
export function describe(object: KubeObject): string {
  return `${object.kind}/${object.metadata.name}`;
}
