import { isRecord, type KubeObject } from "./render.ts";

/**
 * Validates objects against the Kubernetes OpenAPI schemas compiled into `kubernetes-models` (and the
 * Prometheus Operator CRD schemas in `@kubernetes-models/prometheus-operator`). Returns one line per
 * problem; an object whose apiVersion/kind has no schema is a problem too.
 */
export async function validateAgainstSchemas(objects: readonly KubeObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const object of objects) {
    const where = `${object.kind}/${object.metadata.name}`;
    const model = await modelFor(object.apiVersion, object.kind);
    if (model === undefined) {
      problems.push(`${where}: no schema for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    try {
      const { apiVersion: _a, kind: _k, ...data } = object;
      new model(data).validate();
    } catch (error) {
      problems.push(`${where}: ${schemaErrors(error)}`);
    }
  }
  return problems;
}

type ModelClass = new (data: unknown) => { validate(): void };

const modelCache = new Map<string, ModelClass | undefined>();

async function modelFor(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const key = `${apiVersion}/${kind}`;
  if (modelCache.has(key)) return modelCache.get(key);
  const specifier = modelSpecifier(apiVersion, kind);
  let model: ModelClass | undefined;
  if (specifier !== undefined) {
    try {
      const module: unknown = await import(specifier);
      const candidate = isRecord(module) ? module[kind] : undefined;
      if (isModelClass(candidate)) model = candidate;
    } catch {
      model = undefined;
    }
  }
  modelCache.set(key, model);
  return model;
}

/** The kubernetes-models module of an apiVersion/kind (its class, its `.d.ts`), if there is one. */
export function modelSpecifier(apiVersion: string, kind: string): string | undefined {
  if (!/^[A-Za-z]+$/.test(kind)) return undefined;
  if (apiVersion.startsWith("monitoring.coreos.com/")) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  }
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion)) return undefined;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

function isModelClass(value: unknown): value is ModelClass {
  return typeof value === "function" && typeof value.prototype?.validate === "function";
}

function schemaErrors(error: unknown): string {
  if (isRecord(error) && Array.isArray(error.errors)) {
    const lines = error.errors.map((entry: unknown) =>
      isRecord(entry) ? `${String(entry.instancePath ?? "")} ${String(entry.message ?? "")}`.trim() : "",
    );
    return lines.filter((line) => line !== "").join("; ");
  }
  return error instanceof Error ? error.message : String(error);
}
