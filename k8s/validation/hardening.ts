import type { IContainer } from "kubernetes-models/v1/Container";
import type { IProbe } from "kubernetes-models/v1/Probe";
import {
  allContainers,
  autoscalers,
  configMaps,
  disruptionBudgets,
  mapSelectorMatches,
  parseQuantity,
  resolveContainerPort,
  selectorMatches,
  serviceAccounts,
  services,
  type Workload,
  workloads,
} from "./objects.ts";
import type { KubeObject } from "./render.ts";

const PROBES = ["startupProbe", "livenessProbe", "readinessProbe"] as const;

/** Volume types the "restricted" Pod Security Standard allows (no hostPath, no network volumes). */
const RESTRICTED_VOLUME_TYPES = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
]);

/**
 * The hardening every workload must have, whoever wrote it (ostmesh, NATS, the collector): non-root,
 * read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp, no service
 * account token, requests and limits, three probes on declared ports, a PodDisruptionBudget, a graceful
 * stop, recommended labels. Returns one line per problem.
 */
export function checkWorkloadHardening(objects: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  const accounts = serviceAccounts(objects);
  const budgets = disruptionBudgets(objects);
  for (const workload of workloads(objects)) {
    const at = `${workload.kind}/${workload.name}`;
    const pod = workload.pod;
    const report = (message: string) => problems.push(`${at}: ${message}`);

    for (const key of [
      "app.kubernetes.io/name",
      "app.kubernetes.io/part-of",
      "app.kubernetes.io/component",
    ]) {
      if (!workload.labels[key]) report(`label ${key} missing`);
      if (!workload.podLabels[key]) report(`pod template label ${key} missing`);
    }
    if (!selectorMatches(workload.selector, workload.podLabels))
      report("selector does not match its pod template");

    if (pod.automountServiceAccountToken !== false) report("automountServiceAccountToken is not false");
    const account = accounts.find((sa) => sa.metadata?.name === pod.serviceAccountName);
    if (pod.serviceAccountName === undefined) report("no serviceAccountName (would run as default)");
    else if (account === undefined) report(`ServiceAccount ${pod.serviceAccountName} is not rendered`);
    else if (account.automountServiceAccountToken !== false) {
      report(`ServiceAccount ${pod.serviceAccountName} mounts its token`);
    }
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) report("shares a host namespace");

    for (const volume of pod.volumes ?? []) {
      const types = Object.keys(volume).filter((key) => key !== "name");
      const forbidden = types.filter((type) => !RESTRICTED_VOLUME_TYPES.has(type));
      if (forbidden.length > 0)
        report(
          `volume ${volume.name} is of a type Pod Security "restricted" forbids: ${forbidden.join(", ")}`,
        );
    }

    const podSecurity = pod.securityContext ?? {};
    const volumes = new Set([
      ...(pod.volumes ?? []).map((volume) => volume.name),
      ...workload.claimTemplates,
    ]);
    for (const container of allContainers(pod)) {
      const where = `container ${container.name}`;
      const security = container.securityContext ?? {};
      if ((security.runAsNonRoot ?? podSecurity.runAsNonRoot) !== true)
        report(`${where}: runAsNonRoot is not true`);
      const uid = security.runAsUser ?? podSecurity.runAsUser;
      if (uid === undefined || uid === 0) report(`${where}: runAsUser is not a non-zero uid`);
      if (security.allowPrivilegeEscalation !== false)
        report(`${where}: allowPrivilegeEscalation is not false`);
      if (security.readOnlyRootFilesystem !== true) report(`${where}: readOnlyRootFilesystem is not true`);
      if (security.privileged === true) report(`${where}: privileged`);
      if (!(security.capabilities?.drop ?? []).includes("ALL"))
        report(`${where}: capabilities do not drop ALL`);
      if ((security.capabilities?.add ?? []).length > 0) report(`${where}: adds capabilities`);
      const seccomp = security.seccompProfile?.type ?? podSecurity.seccompProfile?.type;
      if (seccomp !== "RuntimeDefault") report(`${where}: seccompProfile is not RuntimeDefault`);
      problems.push(...checkResources(container).map((message) => `${at}: ${where}: ${message}`));
      problems.push(...checkImage(container).map((message) => `${at}: ${where}: ${message}`));
      for (const mount of container.volumeMounts ?? []) {
        if (!volumes.has(mount.name)) report(`${where}: mounts undeclared volume ${mount.name}`);
      }
    }

    for (const container of pod.containers) {
      const where = `container ${container.name}`;
      for (const kind of PROBES) {
        const probe = container[kind];
        if (probe === undefined) {
          report(`${where}: no ${kind}`);
          continue;
        }
        const problem = probePortProblem(container, probe);
        if (problem !== undefined) report(`${where}: ${kind} ${problem}`);
      }
    }

    const grace = pod.terminationGracePeriodSeconds ?? 30;
    for (const container of pod.containers) {
      const sleep = preStopSleepSeconds(container);
      if (sleep === undefined) report(`container ${container.name}: no preStop hook`);
      else if (sleep >= grace)
        report(`container ${container.name}: preStop sleep ${sleep}s >= grace ${grace}s`);
    }

    const matching = budgets.filter(
      (pdb) =>
        pdb.metadata?.namespace === workload.namespace &&
        selectorMatches(pdb.spec?.selector, workload.podLabels),
    );
    if (matching.length !== 1) report(`${matching.length} PodDisruptionBudgets select its pods (want 1)`);
  }
  return problems;
}

function checkResources(container: IContainer): string[] {
  const problems: string[] = [];
  const requests = container.resources?.requests ?? {};
  const limits = container.resources?.limits ?? {};
  for (const resource of ["cpu", "memory"]) {
    const request = parseQuantity(requests[resource]);
    const limit = parseQuantity(limits[resource]);
    if (Number.isNaN(request)) problems.push(`no valid ${resource} request`);
    if (Number.isNaN(limit)) problems.push(`no valid ${resource} limit`);
    if (request > limit) problems.push(`${resource} request exceeds its limit`);
  }
  return problems;
}

function checkImage(container: IContainer): string[] {
  const image = container.image ?? "";
  const tag = /^[^@]+:([A-Za-z0-9_][A-Za-z0-9_.-]*)$/.exec(image.replace(/^[^/]+:\d+\//, "registry/"))?.[1];
  if (tag === undefined) return [`image ${image || "(none)"} has no tag`];
  if (tag === "latest") return [`image ${image} uses :latest`];
  return [];
}

function probePortProblem(container: IContainer, probe: IProbe): string | undefined {
  const port = probe.grpc?.port ?? probe.httpGet?.port ?? probe.tcpSocket?.port;
  if (port === undefined) return probe.exec === undefined ? "has no handler" : undefined;
  return resolveContainerPort(container.ports, port) === undefined
    ? `targets port ${port} that the container does not declare`
    : undefined;
}

/** Seconds a preStop hook waits (`sleep` action or `exec sleep N`); undefined when there is none. */
export function preStopSleepSeconds(container: IContainer): number | undefined {
  const preStop = container.lifecycle?.preStop;
  if (preStop === undefined) return undefined;
  if (preStop.sleep !== undefined) return preStop.sleep.seconds;
  const command = preStop.exec?.command ?? [];
  if (command[0] === "sleep" && command.length === 2) return Number(command[1]);
  return 0;
}

export interface OstmeshWorkloadOptions {
  /** How long a process drains in-flight calls after SIGTERM when OSTMESH_SHUTDOWN_GRACE is not set. */
  defaultDrainSeconds: number;
}

/** A kit duration (`500ms`, `20s`, `2m`, `1h`, bare milliseconds) in seconds; NaN when malformed. */
export function durationSeconds(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(value.trim());
  if (match === null) return Number.NaN;
  const unit = (match[2] ?? "ms").toLowerCase();
  const scale = unit === "h" ? 3600 : unit === "m" ? 60 : unit === "s" ? 1 : 0.001;
  return Number(match[1]) * scale;
}

/** A container's value of an env var, from its env list or (later wins) from the ConfigMaps it loads. */
function envValue(objects: readonly KubeObject[], container: IContainer, name: string): string | undefined {
  const direct = (container.env ?? []).find((variable) => variable.name === name);
  if (direct !== undefined) return direct.value;
  let value: string | undefined;
  for (const source of container.envFrom ?? []) {
    const map = configMaps(objects).find(
      (candidate) => candidate.metadata?.name === source.configMapRef?.name,
    );
    const found = map?.data?.[name];
    if (found !== undefined) value = found;
  }
  return value;
}

/** Env var prefix of a workload's ports: TICKET_PORT, GATEWAY_H2C_PORT... */
function portVariables(name: string): { variable: string; portName: string }[] {
  const prefix = name.toUpperCase();
  if (name === "gateway") {
    return [
      { variable: "GATEWAY_PORT", portName: "http" },
      { variable: "GATEWAY_H2C_PORT", portName: "grpc" },
      { variable: "GATEWAY_ADMIN_PORT", portName: "admin" },
    ];
  }
  return [
    { variable: `${prefix}_PORT`, portName: "grpc" },
    { variable: `${prefix}_ADMIN_PORT`, portName: "admin" },
  ];
}

export function isOstmeshWorkload(workload: Workload): boolean {
  const component = workload.podLabels["app.kubernetes.io/component"];
  return (
    workload.podLabels["app.kubernetes.io/part-of"] === "ostmesh" &&
    (component === "gateway" || component === "backend")
  );
}

/**
 * What an ostmesh process needs from its pod: its image from ghcr.io/ostmesh with the image's own CMD,
 * ports and env that agree, gRPC readiness on the h2c port, /healthz liveness and startup on the admin
 * port, a stop that outlasts the drain, a writable /tmp, scrape annotations, service links off, an HPA.
 */
export function checkOstmeshWorkloads(
  objects: readonly KubeObject[],
  options: OstmeshWorkloadOptions,
): string[] {
  const problems: string[] = [];
  const hpas = autoscalers(objects);
  for (const workload of workloads(objects).filter(isOstmeshWorkload)) {
    const at = `${workload.kind}/${workload.name}`;
    const report = (message: string) => problems.push(`${at}: ${message}`);
    const pod = workload.pod;
    const container = pod.containers.find((candidate) => candidate.name === workload.name);
    if (container === undefined || pod.containers.length !== 1) {
      report(`expects exactly one container named ${workload.name}`);
      continue;
    }
    if (
      !new RegExp(`^ghcr\\.io/ostmesh/${workload.name}:[A-Za-z0-9_][A-Za-z0-9_.-]*$`).test(
        container.image ?? "",
      )
    ) {
      report(`image ${container.image} is not ghcr.io/ostmesh/${workload.name}:<tag>`);
    }
    if (container.command !== undefined || container.args !== undefined) report("overrides the image's CMD");

    const env = new Map((container.env ?? []).map((variable) => [variable.name, variable]));
    for (const { variable, portName } of portVariables(workload.name)) {
      const declared = resolveContainerPort(container.ports, portName);
      if (declared === undefined) report(`declares no port named ${portName}`);
      else if (env.get(variable)?.value !== String(declared.containerPort)) {
        report(`${variable} does not equal the ${portName} containerPort ${declared.containerPort}`);
      }
    }
    // The same service name the process picks for itself when run locally.
    if (env.get("OTEL_SERVICE_NAME")?.value !== `ostmesh-${workload.name}`) {
      report(`OTEL_SERVICE_NAME is not ostmesh-${workload.name}`);
    }
    if (
      !(container.envFrom ?? []).some((source) => source.configMapRef?.name?.startsWith("ostmesh-config"))
    ) {
      report("does not load the ostmesh-config ConfigMap");
    }

    const grpcPort = resolveContainerPort(container.ports, "grpc")?.containerPort;
    if (
      container.readinessProbe?.grpc?.port === undefined ||
      container.readinessProbe.grpc.port !== grpcPort
    ) {
      report("readinessProbe is not grpc.health.v1 on the h2c port");
    }
    const admin = resolveContainerPort(container.ports, "admin");
    for (const kind of ["livenessProbe", "startupProbe"] as const) {
      const get = container[kind]?.httpGet;
      const port = get === undefined ? undefined : resolveContainerPort(container.ports, get.port);
      if (get?.path !== "/healthz" || port === undefined || port !== admin)
        report(`${kind} is not GET /healthz on the admin port`);
    }

    const sleep = preStopSleepSeconds(container) ?? 0;
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    const drainSetting = envValue(objects, container, "OSTMESH_SHUTDOWN_GRACE");
    const drain = drainSetting === undefined ? options.defaultDrainSeconds : durationSeconds(drainSetting);
    if (Number.isNaN(drain)) report(`OSTMESH_SHUTDOWN_GRACE=${drainSetting} is not a duration`);
    if (sleep <= 0) report("preStop does not wait for endpoints to drop the pod");
    if (grace <= sleep + drain) {
      report(`terminationGracePeriodSeconds ${grace} does not outlast preStop ${sleep}s + drain ${drain}s`);
    }
    if (pod.enableServiceLinks !== false)
      report("enableServiceLinks is not false (service env vars clash with *_PORT)");

    const tmp = (container.volumeMounts ?? []).find((mount) => mount.mountPath === "/tmp");
    const tmpVolume = (pod.volumes ?? []).find((volume) => volume.name === tmp?.name);
    if (tmpVolume?.emptyDir === undefined) report("no emptyDir mounted at /tmp");

    const annotations = workload.podAnnotations;
    if (annotations["prometheus.io/scrape"] !== "true") report('prometheus.io/scrape is not "true"');
    if (annotations["prometheus.io/port"] !== String(admin?.containerPort))
      report("prometheus.io/port is not the admin port");
    if (annotations["prometheus.io/path"] !== "/metrics") report("prometheus.io/path is not /metrics");

    const hpa = hpas.filter(
      (candidate) =>
        candidate.metadata?.namespace === workload.namespace &&
        candidate.spec?.scaleTargetRef.kind === workload.kind &&
        candidate.spec.scaleTargetRef.name === workload.name,
    );
    if (hpa.length !== 1) report(`${hpa.length} HorizontalPodAutoscalers target it (want 1)`);
  }
  return problems;
}

/** Services select exactly one workload and every targetPort is a port that workload's pods declare. */
export function checkServices(objects: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  const all = workloads(objects);
  for (const service of services(objects)) {
    const at = `Service/${service.metadata?.name}`;
    const selector = service.spec?.selector;
    if (selector === undefined || Object.keys(selector).length === 0) {
      problems.push(`${at}: has no selector`);
      continue;
    }
    const namespace = service.metadata?.namespace;
    const selected = all.filter(
      (w) => w.namespace === namespace && mapSelectorMatches(selector, w.podLabels),
    );
    if (selected.length !== 1) {
      problems.push(`${at}: selects ${selected.length} workloads (want 1)`);
      continue;
    }
    const [workload] = selected;
    for (const port of service.spec?.ports ?? []) {
      const target = port.targetPort ?? port.port;
      const found = workload?.pod.containers.some((c) => resolveContainerPort(c.ports, target) !== undefined);
      if (!found)
        problems.push(
          `${at}: port ${port.name ?? port.port} targets ${target}, not declared by ${workload?.name}`,
        );
    }
  }
  return problems;
}

/** PDBs and HPAs point at real workloads with numbers that let drains and scaling work. */
export function checkBudgetsAndAutoscalers(objects: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  const all = workloads(objects);
  for (const pdb of disruptionBudgets(objects)) {
    const at = `PodDisruptionBudget/${pdb.metadata?.name}`;
    const spec = pdb.spec ?? {};
    const hasMin = spec.minAvailable !== undefined;
    const hasMax = spec.maxUnavailable !== undefined;
    if (hasMin === hasMax)
      problems.push(`${at}: sets ${hasMin ? "both" : "neither"} of minAvailable and maxUnavailable`);
    const selected = all.filter(
      (w) => w.namespace === pdb.metadata?.namespace && selectorMatches(spec.selector, w.podLabels),
    );
    if (selected.length !== 1) {
      problems.push(`${at}: selects ${selected.length} workloads (want 1)`);
      continue;
    }
    const [workload] = selected;
    if (workload === undefined) continue;
    if (typeof spec.minAvailable === "number" && spec.minAvailable >= workload.replicas) {
      problems.push(
        `${at}: minAvailable ${spec.minAvailable} >= ${workload.replicas} replicas blocks every drain`,
      );
    }
    if (typeof spec.maxUnavailable === "number" && spec.maxUnavailable < 1) {
      problems.push(`${at}: maxUnavailable below 1 blocks every drain`);
    }
  }
  for (const hpa of autoscalers(objects)) {
    const at = `HorizontalPodAutoscaler/${hpa.metadata?.name}`;
    const spec = hpa.spec;
    if (spec === undefined) {
      problems.push(`${at}: has no spec`);
      continue;
    }
    const target = all.find(
      (w) =>
        w.namespace === hpa.metadata?.namespace &&
        w.kind === spec.scaleTargetRef.kind &&
        w.name === spec.scaleTargetRef.name,
    );
    if (target === undefined) {
      problems.push(`${at}: target ${spec.scaleTargetRef.kind}/${spec.scaleTargetRef.name} is not rendered`);
      continue;
    }
    const min = spec.minReplicas ?? 1;
    if (min < 1 || min > spec.maxReplicas)
      problems.push(`${at}: minReplicas ${min} outside 1..${spec.maxReplicas}`);
    if (target.replicas < min || target.replicas > spec.maxReplicas) {
      problems.push(
        `${at}: ${target.name} has ${target.replicas} replicas, outside ${min}..${spec.maxReplicas}`,
      );
    }
    for (const metric of spec.metrics ?? []) {
      const resource = metric.resource?.name;
      if (metric.type !== "Resource" || resource === undefined) continue;
      const missing = target.pod.containers.filter((c) => c.resources?.requests?.[resource] === undefined);
      if (missing.length > 0) problems.push(`${at}: scales on ${resource} but a container requests none`);
    }
  }
  return problems;
}
