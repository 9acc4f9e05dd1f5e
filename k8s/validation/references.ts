import { allContainers, configMaps, resolveContainerPort, secrets, services, workloads } from "./objects.ts";
import type { KubeObject } from "./render.ts";

export interface ReferenceOptions {
  /** Secrets created outside the render (e.g. by an operator in production): name → keys they must hold. */
  externalSecrets?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Every ConfigMap and Secret a pod names (envFrom, env valueFrom, volumes) is rendered — or declared
 * external — and holds every non-optional key asked for; `$(VAR)` in env values names a variable defined
 * before it.
 */
export function checkReferences(objects: readonly KubeObject[], options: ReferenceOptions = {}): string[] {
  const problems: string[] = [];
  const external = options.externalSecrets ?? {};
  const configKeys = new Map<string, Set<string>>();
  for (const map of configMaps(objects)) {
    configKeys.set(
      key(map.metadata?.namespace, map.metadata?.name),
      new Set([...Object.keys(map.data ?? {}), ...Object.keys(map.binaryData ?? {})]),
    );
  }
  const secretKeys = new Map<string, Set<string>>();
  for (const secret of secrets(objects)) {
    secretKeys.set(
      key(secret.metadata?.namespace, secret.metadata?.name),
      new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})]),
    );
  }

  for (const workload of workloads(objects)) {
    const at = `${workload.kind}/${workload.name}`;
    const lookup = (kind: "ConfigMap" | "Secret", name: string | undefined): Set<string> | undefined => {
      if (name === undefined) return undefined;
      const found = (kind === "ConfigMap" ? configKeys : secretKeys).get(key(workload.namespace, name));
      if (found !== undefined) return found;
      const declared = kind === "Secret" ? external[name] : undefined;
      return declared === undefined ? undefined : new Set(declared);
    };
    const need = (
      kind: "ConfigMap" | "Secret",
      name: string | undefined,
      wantedKey: string | undefined,
      optional: boolean | undefined,
      where: string,
    ) => {
      const keys = lookup(kind, name);
      if (keys === undefined) {
        if (!optional) problems.push(`${at}: ${where} names ${kind} ${name}, which is not rendered`);
      } else if (wantedKey !== undefined && !keys.has(wantedKey) && !optional) {
        problems.push(`${at}: ${where} needs key ${wantedKey} of ${kind} ${name}, which it lacks`);
      }
    };
    for (const container of allContainers(workload.pod)) {
      const where = `container ${container.name}`;
      for (const source of container.envFrom ?? []) {
        if (source.configMapRef)
          need(
            "ConfigMap",
            source.configMapRef.name,
            undefined,
            source.configMapRef.optional,
            `${where} envFrom`,
          );
        if (source.secretRef)
          need("Secret", source.secretRef.name, undefined, source.secretRef.optional, `${where} envFrom`);
      }
      const defined = new Set<string>();
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom;
        if (ref?.configMapKeyRef)
          need(
            "ConfigMap",
            ref.configMapKeyRef.name,
            ref.configMapKeyRef.key,
            ref.configMapKeyRef.optional,
            `${where} env ${variable.name}`,
          );
        if (ref?.secretKeyRef)
          need(
            "Secret",
            ref.secretKeyRef.name,
            ref.secretKeyRef.key,
            ref.secretKeyRef.optional,
            `${where} env ${variable.name}`,
          );
        for (const match of (variable.value ?? "").matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!defined.has(match[1] ?? ""))
            problems.push(`${at}: ${where} env ${variable.name} uses $(${match[1]}) before it is defined`);
        }
        defined.add(variable.name);
      }
    }
    for (const volume of workload.pod.volumes ?? []) {
      if (volume.configMap)
        need(
          "ConfigMap",
          volume.configMap.name,
          undefined,
          volume.configMap.optional,
          `volume ${volume.name}`,
        );
      if (volume.secret)
        need("Secret", volume.secret.secretName, undefined, volume.secret.optional, `volume ${volume.name}`);
      for (const source of volume.projected?.sources ?? []) {
        if (source.configMap)
          need(
            "ConfigMap",
            source.configMap.name,
            undefined,
            source.configMap.optional,
            `volume ${volume.name}`,
          );
        if (source.secret)
          need("Secret", source.secret.name, undefined, source.secret.optional, `volume ${volume.name}`);
      }
    }
  }
  return problems;
}

function key(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ""}/${name ?? ""}`;
}

/**
 * Every in-cluster address in a ConfigMap value (`http://ticket:50051`, `nats://nats:4222`) names a
 * rendered Service and one of its ports, and that port leads to a declared container port.
 * Addresses whose host has a dot are outside the render and left alone; so are hosts listed in `external`.
 */
export function checkServiceUrls(objects: readonly KubeObject[], external: readonly string[] = []): string[] {
  const problems: string[] = [];
  const all = workloads(objects);
  for (const map of configMaps(objects)) {
    for (const [name, value] of Object.entries(map.data ?? {})) {
      const match = /^(?:https?|nats|grpc):\/\/([a-z0-9-]+)(?::(\d+))?(?:\/.*)?$/.exec(value);
      if (match === null) continue;
      const host = match[1] ?? "";
      if (external.includes(host)) continue;
      const port = Number(match[2] ?? (value.startsWith("https") ? 443 : 80));
      const service = services(objects).find(
        (s) => s.metadata?.name === host && s.metadata?.namespace === map.metadata?.namespace,
      );
      const at = `ConfigMap/${map.metadata?.name} ${name}=${value}`;
      if (service === undefined) {
        problems.push(`${at}: no Service ${host}`);
        continue;
      }
      const servicePort = service.spec?.ports?.find((p) => p.port === port);
      if (servicePort === undefined) {
        problems.push(`${at}: Service ${host} has no port ${port}`);
        continue;
      }
      const selector = service.spec?.selector ?? {};
      const backing = all.find(
        (w) =>
          w.namespace === service.metadata?.namespace &&
          Object.entries(selector).every(([k, v]) => w.podLabels[k] === v),
      );
      const target = servicePort.targetPort ?? servicePort.port;
      if (
        backing === undefined ||
        !backing.pod.containers.some((c) => resolveContainerPort(c.ports, target) !== undefined)
      ) {
        problems.push(`${at}: Service ${host} port ${port} leads to no container port`);
      }
    }
  }
  return problems;
}
