import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadGatewayConfig } from "@ostmesh/gateway/config.ts";
import { loadIdentityConfig } from "@ostmesh/identity/config.ts";
import { loadNotificationConfig } from "@ostmesh/notification/config.ts";
import { beforeAll, describe, expect, it } from "vitest";
import {
  checkBudgetsAndAutoscalers,
  checkOstmeshWorkloads,
  checkServices,
  checkWorkloadHardening,
  isOstmeshWorkload,
} from "./validation/hardening.ts";
import { checkIsolation, INTERNET, KUBE_DNS, PolicyModel, PROMETHEUS } from "./validation/network-policy.ts";
import {
  autoscalers,
  configMaps,
  disruptionBudgets,
  secrets,
  services,
  workloads,
} from "./validation/objects.ts";
import { checkReferences, checkServiceUrls } from "./validation/references.ts";
import { type KubeObject, renderKustomization } from "./validation/render.ts";
import { validateAgainstSchemas } from "./validation/schema.ts";
import { unknownFields } from "./validation/strict.ts";

const K8S = import.meta.dirname;
const OSTMESH = ["gateway", "ticket", "identity", "attachment", "notification"] as const;
const BACKENDS = ["ticket", "identity", "attachment", "notification"] as const;
/** The keys of the Secret ostmesh-secrets: generated in dev, provided by the operator in production. */
const SECRET_KEYS = [
  "DATABASE_URL",
  "IDENTITY_KEY_ENCRYPTION_KEY",
  "ATTACHMENT_LINK_SECRET",
  "GATEWAY_SERVICE_SECRET",
  "TICKET_SERVICE_SECRET",
  "SMTP_URL",
];
/** How long an ostmesh process drains on SIGTERM when OSTMESH_SHUTDOWN_GRACE is unset (the kit's default). */
const DEFAULT_DRAIN_SECONDS = 10;
const PUBLIC_PORTS = { gateway: ["http", "grpc"] };

const renders: Record<"base" | "dev" | "production", KubeObject[]> = { base: [], dev: [], production: [] };

beforeAll(async () => {
  const [base, dev, production] = await Promise.all([
    renderKustomization(join(K8S, "base")),
    renderKustomization(join(K8S, "overlays/dev")),
    renderKustomization(join(K8S, "overlays/production")),
  ]);
  Object.assign(renders, { base, dev, production });
});

describe.each(["base", "dev", "production"] as const)("rendered %s", (name) => {
  const objects = () => renders[name];
  const external: Record<string, string[]> = name === "dev" ? {} : { "ostmesh-secrets": SECRET_KEYS };

  it("renders every ostmesh workload into the ostmesh namespace", () => {
    const names = workloads(objects()).map((w) => `${w.kind}/${w.name}@${w.namespace}`);
    for (const service of OSTMESH) expect(names).toContain(`Deployment/${service}@ostmesh`);
    for (const object of objects()) {
      if (object.kind !== "Namespace")
        expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBe("ostmesh");
    }
  });

  it("matches the Kubernetes OpenAPI schemas", async () => {
    expect(await validateAgainstSchemas(objects())).toEqual([]);
  });

  it("uses only fields the Kubernetes API defines (strict field validation)", () => {
    expect(unknownFields(objects())).toEqual([]);
  });

  it("hardens every workload", () => {
    expect(checkWorkloadHardening(objects())).toEqual([]);
  });

  it("wires every ostmesh process the way it runs", () => {
    expect(checkOstmeshWorkloads(objects(), { defaultDrainSeconds: DEFAULT_DRAIN_SECONDS })).toEqual([]);
  });

  it("points Services, PodDisruptionBudgets and autoscalers at real pods and ports", () => {
    expect(checkServices(objects())).toEqual([]);
    expect(checkBudgetsAndAutoscalers(objects())).toEqual([]);
  });

  it("resolves every ConfigMap, Secret and in-cluster URL a pod uses", () => {
    expect(checkReferences(objects(), { externalSecrets: external })).toEqual([]);
    // Without the nats-cluster component NATS is provided outside the render.
    expect(checkServiceUrls(objects(), name === "base" ? ["nats"] : [])).toEqual([]);
  });

  it("denies by default, allows DNS, and exposes only the gateway's public ports", () => {
    expect(checkIsolation(objects(), PUBLIC_PORTS)).toEqual([]);
  });

  it("labels every object with the app.kubernetes.io recommended labels", () => {
    for (const object of objects()) {
      const labels = object.metadata.labels ?? {};
      expect(labels["app.kubernetes.io/part-of"], `${object.kind}/${object.metadata.name}`).toBe("ostmesh");
    }
  });
});

describe.each(["dev", "production"] as const)("network policies of %s", (name) => {
  const model = () => new PolicyModel(renders[name], { "kube-system": {}, monitoring: {} });
  const database: { kind: "external"; ip: string } = { kind: "external", ip: "10.20.30.40" };

  it("lets the gateway reach every backend's RPC port and nothing behind them", () => {
    const m = model();
    const gateway = m.pod("gateway");
    for (const backend of BACKENDS) {
      const pod = m.pod(backend);
      const grpc = pod.ports.find((p) => p.name === "grpc")?.containerPort ?? 0;
      const admin = pod.ports.find((p) => p.name === "admin")?.containerPort ?? 0;
      expect(m.allows(gateway, pod, grpc), `gateway -> ${backend}:grpc`).toBe(true);
      expect(m.allows(gateway, pod, admin), `gateway -> ${backend}:admin`).toBe(false);
    }
    expect(m.allows(gateway, m.pod("nats"), 4222)).toBe(false);
    expect(m.allows(gateway, database, 3306)).toBe(false);
    expect(m.allows(gateway, INTERNET, 443)).toBe(false);
  });

  it("lets backends reach each other, NATS and MySQL, but not the gateway or the internet", () => {
    const m = model();
    for (const source of BACKENDS) {
      const from = m.pod(source);
      for (const target of BACKENDS) {
        const pod = m.pod(target);
        const grpc = pod.ports.find((p) => p.name === "grpc")?.containerPort ?? 0;
        expect(m.allows(from, pod, grpc), `${source} -> ${target}:grpc`).toBe(true);
      }
      expect(m.allows(from, m.pod("nats"), 4222), `${source} -> nats:4222`).toBe(true);
      expect(m.allows(from, m.pod("nats"), 6222), `${source} -> nats:6222`).toBe(false);
      expect(m.allows(from, database, 3306), `${source} -> mysql`).toBe(true);
      expect(m.allows(from, m.pod("gateway"), 8080), `${source} -> gateway`).toBe(false);
      expect(m.allows(from, INTERNET, 443), `${source} -> internet:443`).toBe(source === "notification");
      expect(m.allows(from, INTERNET, 587), `${source} -> smtp`).toBe(source === "notification");
    }
    expect(m.allows(m.pod("notification"), { kind: "external", ip: "169.254.169.254" }, 80)).toBe(false);
  });

  it("keeps NATS routes between NATS nodes and telemetry flowing to the collector", () => {
    const m = model();
    expect(m.allows(m.pod("nats"), m.pod("nats"), 6222)).toBe(true);
    expect(m.allows(m.pod("nats"), INTERNET, 6222)).toBe(false);
    for (const source of OSTMESH) {
      expect(m.allows(m.pod(source), m.pod("otel-collector"), 4318), `${source} -> collector`).toBe(true);
    }
    expect(m.allows(m.pod("nats"), m.pod("otel-collector"), 4318)).toBe(false);
    expect(m.allows(m.pod("otel-collector"), INTERNET, 4317)).toBe(true);
    expect(m.allows(m.pod("otel-collector"), KUBE_DNS, 53, "UDP")).toBe(true);
  });

  it("lets Prometheus scrape the admin ports only", () => {
    const m = model();
    for (const name of OSTMESH) {
      const pod = m.pod(name);
      const admin = pod.ports.find((p) => p.name === "admin")?.containerPort ?? 0;
      const grpc = pod.ports.find((p) => p.name === "grpc")?.containerPort ?? 0;
      expect(m.allows(PROMETHEUS, pod, admin), `prometheus -> ${name}:admin`).toBe(true);
      if (name !== "gateway")
        expect(m.allows(PROMETHEUS, pod, grpc), `prometheus -> ${name}:grpc`).toBe(false);
    }
    expect(m.allows(PROMETHEUS, m.pod("otel-collector"), 8888)).toBe(true);
  });
});

describe("dev overlay", () => {
  it("runs one replica of every ostmesh workload with autoscalers that start at one", () => {
    for (const workload of workloads(renders.dev).filter(isOstmeshWorkload)) {
      expect(workload.replicas, workload.name).toBe(1);
    }
    for (const hpa of autoscalers(renders.dev))
      expect([hpa.spec?.minReplicas, hpa.spec?.maxReplicas]).toEqual([1, 2]);
  });

  it("logs at debug level and uses the dev image tag", () => {
    const config = configMaps(renders.dev).find((map) => map.metadata?.name?.startsWith("ostmesh-config-"));
    expect(config?.data?.LOG_LEVEL).toBe("debug");
    for (const workload of workloads(renders.dev).filter(isOstmeshWorkload)) {
      expect(workload.pod.containers[0]?.image).toBe(`ghcr.io/ostmesh/${workload.name}:dev`);
    }
  });

  it("generates the dev Secret with a content hash and rewrites every reference to it", () => {
    const generated = secrets(renders.dev);
    expect(generated).toHaveLength(1);
    const name = generated[0]?.metadata?.name ?? "";
    expect(name).toMatch(/^ostmesh-secrets-[a-z0-9]{10}$/);
    expect(Object.keys(generated[0]?.data ?? {}).sort()).toEqual([...SECRET_KEYS].sort());
    const refs = workloads(renders.dev).flatMap((w) =>
      w.pod.containers.flatMap((c) => (c.env ?? []).flatMap((e) => e.valueFrom?.secretKeyRef?.name ?? [])),
    );
    expect(refs.length).toBeGreaterThan(0);
    expect(new Set(refs)).toEqual(new Set([name]));
  });

  it("keeps dev-secrets.env, production's external Secret and the README on the same keys", () => {
    const env = readFileSync(join(K8S, "overlays/dev/dev-secrets.env"), "utf8");
    const keys = env
      .split("\n")
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split("=")[0]);
    expect(keys.sort()).toEqual([...SECRET_KEYS].sort());
    // The services refuse short secrets at start-up: the dev values must pass the same rules.
    const value = (key: string) => env.match(new RegExp(`^${key}=(.*)$`, "m"))?.[1] ?? "";
    expect(Buffer.from(value("IDENTITY_KEY_ENCRYPTION_KEY"), "base64")).toHaveLength(32);
    expect(Buffer.byteLength(value("ATTACHMENT_LINK_SECRET"))).toBeGreaterThanOrEqual(32);
    expect(value("DATABASE_URL")).toMatch(/^mysql:\/\//);
    const readme = readFileSync(join(K8S, "README.md"), "utf8");
    for (const key of SECRET_KEYS) expect(readme, key).toContain(key);
  });
});

describe("service credentials and settings in dev, as the processes read them", () => {
  /** The dev Secret's values and a container's env resolved the way the kubelet does ($(VAR) expansion). */
  const resolvedEnv = (workload: string): Record<string, string> => {
    const secret = secrets(renders.dev)[0];
    const data = secret?.data ?? {};
    const pod = workloads(renders.dev).find((w) => w.name === workload)?.pod;
    const env: Record<string, string> = {};
    for (const variable of pod?.containers[0]?.env ?? []) {
      const key = variable.valueFrom?.secretKeyRef?.key;
      if (key !== undefined) {
        const encoded = data[key];
        if (encoded !== undefined) env[variable.name] = Buffer.from(encoded, "base64").toString("utf8");
      } else if (variable.value !== undefined) {
        env[variable.name] = variable.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) =>
          Object.hasOwn(env, name) ? (env[name] ?? "") : all,
        );
      }
    }
    return env;
  };

  it("identity lists the gateway and the ticket service with the secrets those processes get", () => {
    const identity = loadIdentityConfig(resolvedEnv("identity"));
    const clients = new Map(identity.serviceClients.map((c) => [c.name, c]));
    const gateway = loadGatewayConfig(resolvedEnv("gateway"));
    expect(gateway.service.name).toBe("gateway");
    expect(gateway.service.secret).toBeTruthy();
    expect(clients.get("gateway")?.secret).toBe(gateway.service.secret);
    expect(clients.get("gateway")?.scopes).toEqual(
      expect.arrayContaining(["auth:check", "syslog:write", "tickets:read", "files:read"]),
    );
    const ticketSecret = resolvedEnv("ticket").TICKET_SERVICE_SECRET;
    expect(ticketSecret).toBeTruthy();
    expect(clients.get("ticket")?.secret).toBe(ticketSecret);
  });

  it("gives the notification service the SMTP_URL it reads (and no variables it does not)", () => {
    const env = resolvedEnv("notification");
    expect(loadNotificationConfig(env).smtpUrl).toBe("smtp://mailpit:1025");
    for (const unread of [
      "SMTP_HOST",
      "SMTP_PORT",
      "SMTP_USERNAME",
      "SMTP_PASSWORD",
      "WEBHOOK_SIGNING_SECRET",
    ]) {
      expect(env[unread], unread).toBeUndefined();
      for (const map of configMaps(renders.dev)) expect(map.data?.[unread], unread).toBeUndefined();
    }
  });
});

describe("production overlay", () => {
  const ostmesh = () => workloads(renders.production).filter(isOstmeshWorkload);

  it("runs at least three replicas spread by anti-affinity and topology constraints", () => {
    expect(
      ostmesh()
        .map((w) => w.name)
        .sort(),
    ).toEqual([...OSTMESH].sort());
    for (const workload of ostmesh()) {
      expect(workload.replicas, workload.name).toBeGreaterThanOrEqual(3);
      const anti =
        workload.pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
      expect(
        anti.some(
          (term) =>
            term.podAffinityTerm.labelSelector?.matchLabels?.["app.kubernetes.io/name"] === workload.name,
        ),
      ).toBe(true);
      const keys = (workload.pod.topologySpreadConstraints ?? [])
        .filter((c) => c.labelSelector?.matchLabels?.["app.kubernetes.io/name"] === workload.name)
        .map((c) => c.topologyKey);
      expect(keys.sort(), workload.name).toEqual(["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
    }
  });

  it("gives every ostmesh workload more resources than dev and a minAvailable budget", () => {
    const dev = new Map(workloads(renders.dev).map((w) => [w.name, w]));
    for (const workload of ostmesh()) {
      const prod = workload.pod.containers[0]?.resources;
      const small = dev.get(workload.name)?.pod.containers[0]?.resources;
      expect(prod?.requests?.cpu, workload.name).not.toBe(small?.requests?.cpu);
      expect(prod?.limits?.memory, workload.name).not.toBe(small?.limits?.memory);
    }
    const budgets = disruptionBudgets(renders.production).filter((pdb) =>
      OSTMESH.some((name) => pdb.metadata?.name === name),
    );
    expect(budgets).toHaveLength(OSTMESH.length);
    for (const pdb of budgets) {
      expect(pdb.spec?.minAvailable, pdb.metadata?.name).toBe(2);
      expect(pdb.spec?.maxUnavailable).toBeUndefined();
    }
  });

  it("renders no Secret: production secrets come from outside git", () => {
    expect(secrets(renders.production)).toEqual([]);
  });

  it("samples 10 % of traces and sends them to the collector", () => {
    const config = configMaps(renders.production).find((map) =>
      map.metadata?.name?.startsWith("ostmesh-config-"),
    );
    expect(config?.data?.OTEL_TRACES_SAMPLER_ARG).toBe("0.1");
    for (const workload of ostmesh()) {
      const env = workload.pod.containers[0]?.env ?? [];
      expect(env.find((e) => e.name === "OTEL_EXPORTER_OTLP_ENDPOINT")?.value, workload.name).toBe(
        "http://otel-collector:4318",
      );
    }
    expect(
      services(renders.production)
        .find((s) => s.metadata?.name === "otel-collector")
        ?.spec?.ports?.map((p) => p.port),
    ).toContain(4318);
  });

  it("scrapes every ostmesh Service's admin port through a ServiceMonitor", () => {
    const monitors = renders.production.filter((object) => object.kind === "ServiceMonitor");
    expect(monitors).toHaveLength(1);
    const spec = monitors[0]?.spec;
    if (typeof spec !== "object" || spec === null || !("endpoints" in spec) || !("selector" in spec)) {
      throw new Error("ServiceMonitor without selector or endpoints");
    }
    expect(JSON.stringify(spec.endpoints)).toContain('"port":"admin"');
    const selected = services(renders.production).filter(
      (service) =>
        service.metadata?.labels?.["app.kubernetes.io/part-of"] === "ostmesh" &&
        ["gateway", "backend"].includes(service.metadata.labels["app.kubernetes.io/component"] ?? ""),
    );
    expect(selected.map((s) => s.metadata?.name).sort()).toEqual([...OSTMESH].sort());
    for (const service of selected) expect(service.spec?.ports?.map((p) => p.name)).toContain("admin");
  });

  it("runs NATS as a three-node JetStream cluster with routes to every node and persistent storage", () => {
    const nats = workloads(renders.production).find((w) => w.name === "nats");
    expect(nats?.kind).toBe("StatefulSet");
    expect(nats?.replicas).toBe(3);
    const set = renders.production.find((o) => o.kind === "StatefulSet" && o.metadata.name === "nats");
    expect(JSON.stringify(set)).toContain(
      '"volumeClaimTemplates":[{"metadata":{"labels":{"app.kubernetes.io/name":"nats"},"name":"data"}',
    );
    const conf =
      configMaps(renders.production).find((map) => map.metadata?.name?.startsWith("nats-config-"))?.data?.[
        "nats.conf"
      ] ?? "";
    for (let node = 0; node < 3; node++) expect(conf).toContain(`nats://nats-${node}.nats-headless:6222`);
    expect(conf).toMatch(/jetstream\s*{[^}]*store_dir: \/data/);
  });
});

describe("base", () => {
  it("leaves secrets to the overlays and names the same keys every overlay provides", () => {
    expect(secrets(renders.base)).toEqual([]);
    const keys = new Set(
      workloads(renders.base).flatMap((w) =>
        w.pod.containers.flatMap((c) =>
          (c.env ?? []).flatMap((e) =>
            e.valueFrom?.secretKeyRef?.optional ? [] : (e.valueFrom?.secretKeyRef?.key ?? []),
          ),
        ),
      ),
    );
    expect([...keys].sort()).toEqual([...SECRET_KEYS].sort());
  });

  it("resolves relative to the repository", () => {
    expect(resolve(K8S, "..")).toBe(resolve(import.meta.dirname, ".."));
  });
});
