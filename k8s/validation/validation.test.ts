import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDockerfile, dockerIgnored, execForm, parseDockerfile } from "./dockerfile.ts";
import {
  checkBudgetsAndAutoscalers,
  checkOstmeshWorkloads,
  checkServices,
  checkWorkloadHardening,
  durationSeconds,
  preStopSleepSeconds,
} from "./hardening.ts";
import { importClosure, runtimeSpecifiers } from "./imports.ts";
import { checkIsolation, INTERNET, ipv4InCidr, PolicyModel } from "./network-policy.ts";
import {
  autoscalers,
  disruptionBudgets,
  networkPolicies,
  parseQuantity,
  selectorMatches,
  services,
  workloads,
} from "./objects.ts";
import { checkReferences, checkServiceUrls } from "./references.ts";
import { type KubeObject, parseManifests, renderKustomization } from "./render.ts";
import { validateAgainstSchemas } from "./schema.ts";
import { unknownFields } from "./strict.ts";

// Every check is proven able to fail: each case breaks one thing in a real render and expects the
// matching problem (the suite in ../validate.test.ts proves the real manifests pass).

const BASE = join(import.meta.dirname, "..", "base");
const EXTERNAL = {
  "ostmesh-secrets": [
    "DATABASE_URL",
    "IDENTITY_KEY_ENCRYPTION_KEY",
    "ATTACHMENT_LINK_SECRET",
    "GATEWAY_SERVICE_SECRET",
    "TICKET_SERVICE_SECRET",
    "SMTP_URL",
  ],
};
let base: KubeObject[] = [];

beforeAll(async () => {
  base = await renderKustomization(BASE);
});

/** A deep copy of the base render with one workload handed to `mutate`. */
function broken(
  name: string,
  mutate: (objects: KubeObject[], workload: ReturnType<typeof workloads>[number]) => void,
): KubeObject[] {
  const objects = structuredClone(base);
  const workload = workloads(objects).find((w) => w.name === name);
  if (workload === undefined) throw new Error(`no workload ${name}`);
  mutate(objects, workload);
  return objects;
}

function container(workload: ReturnType<typeof workloads>[number]) {
  const first = workload.pod.containers[0];
  if (first === undefined) throw new Error("no container");
  return first;
}

describe("render", () => {
  it("names the directory and kustomize's reason when a build fails", async () => {
    await expect(renderKustomization(join(BASE, "no-such-dir"))).rejects.toThrow(
      /kustomize build of .*no-such-dir failed: .+/,
    );
  });

  it("refuses documents that are not Kubernetes objects", () => {
    expect(() => parseManifests("- a\n- b\n", "x")).toThrow("x: document 1 is not a mapping");
    expect(() => parseManifests("apiVersion: v1\nmetadata: {name: a}\n", "x")).toThrow("has no kind");
    expect(() => parseManifests("kind: Pod\nmetadata: {name: a}\n", "x")).toThrow("has no apiVersion");
    expect(() => parseManifests("apiVersion: v1\nkind: Pod\nmetadata: {}\n", "x")).toThrow(
      "(Pod) has no metadata.name",
    );
    expect(() =>
      parseManifests("apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {n: 1}}\n", "x"),
    ).toThrow("n is not a string");
    expect(() => parseManifests("a: [1,\n", "x")).toThrow(/x: YAML document 1/);
    expect(parseManifests("---\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n", "x")).toHaveLength(1);
  });
});

describe("schema validation", () => {
  it("reports a field of the wrong type with its path", async () => {
    const objects = broken("ticket", (_, w) => {
      container(w).ports = [{ containerPort: Number.NaN, name: "grpc" }];
    });
    const problems = await validateAgainstSchemas(objects);
    expect(
      problems.some(
        (p) =>
          p.startsWith("Deployment/ticket:") &&
          p.includes("/spec/template/spec/containers/0/ports/0/containerPort"),
      ),
    ).toBe(true);
  });

  it("reports objects it has no schema for", async () => {
    const [object] = parseManifests("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n", "x");
    const [odd] = parseManifests("apiVersion: v1\nkind: 'No Such'\nmetadata: {name: w}\n", "x");
    if (object === undefined || odd === undefined) throw new Error("fixture");
    expect(await validateAgainstSchemas([object, odd])).toEqual([
      "Widget/w: no schema for example.com/v1 Widget",
      "No Such/w: no schema for v1 No Such",
    ]);
  });
});

describe("strict fields", () => {
  it("reports misspelt and misplaced fields anywhere in an object, and nothing in free-form maps", () => {
    const objects = broken("ticket", (all, w) => {
      Object.assign(container(w).securityContext ?? {}, { readOnlyRootFileSystem: true });
      Object.assign(container(w).env?.[0] ?? {}, { valuefrom: {} });
      Object.assign(w.pod, { terminationGracePeriod: 30 });
      w.podLabels["any-label"] = "is fine";
      const policy = networkPolicies(all).find((p) => p.metadata?.name === "backend");
      Object.assign(policy?.spec?.egress?.[1]?.to?.[0] ?? {}, { namespaceSelecter: {} });
      const deployment = all.find((o) => o.kind === "Deployment" && o.metadata.name === "ticket");
      Object.assign(deployment?.metadata ?? {}, { label: {} });
    });
    expect(unknownFields(objects).sort()).toEqual([
      "Deployment/ticket: metadata.label: unknown field",
      "Deployment/ticket: spec.template.spec.containers[0].env[0].valuefrom: unknown field",
      "Deployment/ticket: spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem: unknown field",
      "Deployment/ticket: spec.template.spec.terminationGracePeriod: unknown field",
      "NetworkPolicy/backend: spec.egress[1].to[0].namespaceSelecter: unknown field",
    ]);
  });

  it("checks custom resources by their CRD types and reports kinds it has no declaration for", () => {
    const [monitor, widget] = parseManifests(
      [
        "apiVersion: monitoring.coreos.com/v1",
        "kind: ServiceMonitor",
        "metadata: {name: m}",
        "spec: {selector: {}, endpoints: [{port: admin, scrapeInterval: 30s}]}",
        "---",
        "apiVersion: example.com/v1",
        "kind: Widget",
        "metadata: {name: w}",
      ].join("\n"),
      "x",
    );
    if (monitor === undefined || widget === undefined) throw new Error("fixture");
    expect(unknownFields([monitor, widget])).toEqual([
      "ServiceMonitor/m: spec.endpoints[0].scrapeInterval: unknown field",
      "Widget/w: no type declaration for example.com/v1 Widget",
    ]);
  });
});

describe("workload hardening", () => {
  const cases: [string, (objects: KubeObject[], w: ReturnType<typeof workloads>[number]) => void, string][] =
    [
      [
        "root filesystem",
        (_, w) => {
          container(w).securityContext = { ...container(w).securityContext, readOnlyRootFilesystem: false };
        },
        "readOnlyRootFilesystem is not true",
      ],
      [
        "uid 0",
        (_, w) => {
          container(w).securityContext = { ...container(w).securityContext, runAsUser: 0 };
        },
        "runAsUser is not a non-zero uid",
      ],
      [
        "non-root",
        (_, w) => {
          w.pod.securityContext = {};
          container(w).securityContext = { ...container(w).securityContext, runAsNonRoot: undefined };
        },
        "runAsNonRoot is not true",
      ],
      [
        "escalation",
        (_, w) => {
          container(w).securityContext = { ...container(w).securityContext, allowPrivilegeEscalation: true };
        },
        "allowPrivilegeEscalation is not false",
      ],
      [
        "capabilities",
        (_, w) => {
          container(w).securityContext = {
            ...container(w).securityContext,
            capabilities: { add: ["NET_ADMIN"] },
          };
        },
        "capabilities do not drop ALL",
      ],
      [
        "added capabilities",
        (_, w) => {
          container(w).securityContext = {
            ...container(w).securityContext,
            capabilities: { drop: ["ALL"], add: ["NET_RAW"] },
          };
        },
        "adds capabilities",
      ],
      [
        "privileged",
        (_, w) => {
          container(w).securityContext = { ...container(w).securityContext, privileged: true };
        },
        "privileged",
      ],
      [
        "seccomp",
        (_, w) => {
          w.pod.securityContext = { ...w.pod.securityContext, seccompProfile: undefined };
          container(w).securityContext = { ...container(w).securityContext, seccompProfile: undefined };
        },
        "seccompProfile is not RuntimeDefault",
      ],
      [
        "token",
        (_, w) => {
          w.pod.automountServiceAccountToken = true;
        },
        "automountServiceAccountToken is not false",
      ],
      [
        "account",
        (_, w) => {
          w.pod.serviceAccountName = "nobody";
        },
        "ServiceAccount nobody is not rendered",
      ],
      [
        "default account",
        (_, w) => {
          w.pod.serviceAccountName = undefined;
        },
        "no serviceAccountName",
      ],
      [
        "a host path volume",
        (_, w) => {
          w.pod.volumes?.push({ name: "host", hostPath: { path: "/var/run" } });
        },
        'volume host is of a type Pod Security "restricted" forbids: hostPath',
      ],
      [
        "host network",
        (_, w) => {
          w.pod.hostNetwork = true;
        },
        "shares a host namespace",
      ],
      [
        "limits",
        (_, w) => {
          container(w).resources = { requests: { cpu: "100m", memory: "1Gi" }, limits: { memory: "512Mi" } };
        },
        "no valid cpu limit",
      ],
      [
        "request above limit",
        (_, w) => {
          container(w).resources = {
            requests: { cpu: "2", memory: "64Mi" },
            limits: { cpu: "1", memory: "64Mi" },
          };
        },
        "cpu request exceeds its limit",
      ],
      [
        "latest",
        (_, w) => {
          container(w).image = "ghcr.io/ostmesh/ticket:latest";
        },
        "uses :latest",
      ],
      [
        "untagged",
        (_, w) => {
          container(w).image = "ghcr.io/ostmesh/ticket";
        },
        "has no tag",
      ],
      [
        "probe port",
        (_, w) => {
          container(w).livenessProbe = { httpGet: { path: "/healthz", port: "metrics" } };
        },
        "livenessProbe targets port metrics that the container does not declare",
      ],
      [
        "missing probe",
        (_, w) => {
          container(w).startupProbe = undefined;
        },
        "no startupProbe",
      ],
      [
        "probe handler",
        (_, w) => {
          container(w).readinessProbe = { periodSeconds: 5 };
        },
        "readinessProbe has no handler",
      ],
      [
        "preStop",
        (_, w) => {
          container(w).lifecycle = undefined;
        },
        "no preStop hook",
      ],
      [
        "preStop vs grace",
        (_, w) => {
          w.pod.terminationGracePeriodSeconds = 5;
        },
        "preStop sleep 5s >= grace 5s",
      ],
      [
        "volume",
        (_, w) => {
          w.pod.volumes = [];
        },
        "mounts undeclared volume tmp",
      ],
      [
        "selector",
        (_, w) => {
          w.podLabels["app.kubernetes.io/name"] = "other";
        },
        "selector does not match its pod template",
      ],
      [
        "labels",
        (_, w) => {
          delete w.podLabels["app.kubernetes.io/component"];
        },
        "pod template label app.kubernetes.io/component missing",
      ],
      [
        "budget",
        (objects) => {
          objects.splice(
            objects.findIndex((o) => o.kind === "PodDisruptionBudget" && o.metadata.name === "ticket"),
            1,
          );
        },
        "0 PodDisruptionBudgets select its pods",
      ],
    ];
  it.each(cases)("catches %s", (_, mutate, expected) => {
    const problems = checkWorkloadHardening(broken("ticket", mutate));
    expect(
      problems.some((p) => p.startsWith("Deployment/ticket:") && p.includes(expected)),
      problems.join("\n"),
    ).toBe(true);
  });

  it("reads preStop waits from the sleep action and from exec sleep", () => {
    expect(preStopSleepSeconds({ name: "a", lifecycle: { preStop: { sleep: { seconds: 7 } } } })).toBe(7);
    expect(
      preStopSleepSeconds({ name: "a", lifecycle: { preStop: { exec: { command: ["sleep", "3"] } } } }),
    ).toBe(3);
    expect(
      preStopSleepSeconds({ name: "a", lifecycle: { preStop: { exec: { command: ["kill", "1"] } } } }),
    ).toBe(0);
    expect(preStopSleepSeconds({ name: "a" })).toBeUndefined();
  });
});

describe("ostmesh workload wiring", () => {
  const cases: [string, (objects: KubeObject[], w: ReturnType<typeof workloads>[number]) => void, string][] =
    [
      [
        "a foreign image",
        (_, w) => {
          container(w).image = "docker.io/library/ticket:1";
        },
        "is not ghcr.io/ostmesh/ticket:<tag>",
      ],
      [
        "a CMD override",
        (_, w) => {
          container(w).command = ["sh"];
        },
        "overrides the image's CMD",
      ],
      [
        "a port variable that disagrees",
        (_, w) => {
          container(w).env = (container(w).env ?? []).map((e) =>
            e.name === "TICKET_PORT" ? { name: e.name, value: "1" } : e,
          );
        },
        "TICKET_PORT does not equal the grpc containerPort 50051",
      ],
      [
        "a missing port",
        (_, w) => {
          container(w).ports = (container(w).ports ?? []).filter((p) => p.name !== "admin");
        },
        "declares no port named admin",
      ],
      [
        "a wrong service name",
        (_, w) => {
          container(w).env = (container(w).env ?? []).filter((e) => e.name !== "OTEL_SERVICE_NAME");
        },
        "OTEL_SERVICE_NAME is not ostmesh-ticket",
      ],
      [
        "no shared config",
        (_, w) => {
          container(w).envFrom = [];
        },
        "does not load the ostmesh-config ConfigMap",
      ],
      [
        "HTTP readiness",
        (_, w) => {
          container(w).readinessProbe = { httpGet: { path: "/readyz", port: "admin" } };
        },
        "readinessProbe is not grpc.health.v1 on the h2c port",
      ],
      [
        "liveness elsewhere",
        (_, w) => {
          container(w).livenessProbe = { grpc: { port: 50051 } };
        },
        "livenessProbe is not GET /healthz on the admin port",
      ],
      [
        "a grace shorter than the drain",
        (_, w) => {
          w.pod.terminationGracePeriodSeconds = 25;
        },
        "terminationGracePeriodSeconds 25 does not outlast preStop 5s + drain 20s",
      ],
      [
        "a drain setting that is no duration",
        (_, w) => {
          container(w).env?.push({ name: "OSTMESH_SHUTDOWN_GRACE", value: "soon" });
        },
        "OSTMESH_SHUTDOWN_GRACE=soon is not a duration",
      ],
      [
        "a longer drain than the grace covers",
        (_, w) => {
          container(w).env?.push({ name: "OSTMESH_SHUTDOWN_GRACE", value: "1m" });
        },
        "terminationGracePeriodSeconds 35 does not outlast preStop 5s + drain 60s",
      ],
      [
        "the kit's default drain when nothing sets one",
        (objects) => {
          for (const map of objects.filter((o) => o.kind === "ConfigMap")) {
            const data = map.data;
            if (typeof data === "object" && data !== null && "OSTMESH_SHUTDOWN_GRACE" in data) {
              Reflect.deleteProperty(data, "OSTMESH_SHUTDOWN_GRACE");
            }
          }
          for (const w of workloads(objects)) w.pod.terminationGracePeriodSeconds = 15;
        },
        "terminationGracePeriodSeconds 15 does not outlast preStop 5s + drain 10s",
      ],
      [
        "no preStop wait",
        (_, w) => {
          container(w).lifecycle = { preStop: { exec: { command: ["true"] } } };
        },
        "preStop does not wait",
      ],
      [
        "service links",
        (_, w) => {
          w.pod.enableServiceLinks = undefined;
        },
        "enableServiceLinks is not false",
      ],
      [
        "no /tmp",
        (_, w) => {
          container(w).volumeMounts = [];
        },
        "no emptyDir mounted at /tmp",
      ],
      [
        "scrape port",
        (_, w) => {
          w.podAnnotations["prometheus.io/port"] = "50051";
        },
        "prometheus.io/port is not the admin port",
      ],
      [
        "scrape off",
        (_, w) => {
          w.podAnnotations["prometheus.io/scrape"] = "false";
        },
        "prometheus.io/scrape is not",
      ],
      [
        "no autoscaler",
        (objects) => {
          objects.splice(
            objects.findIndex((o) => o.kind === "HorizontalPodAutoscaler" && o.metadata.name === "ticket"),
            1,
          );
        },
        "0 HorizontalPodAutoscalers target it",
      ],
      [
        "a sidecar",
        (_, w) => {
          w.pod.containers.push({ name: "sidecar", image: "x:1" });
        },
        "expects exactly one container named ticket",
      ],
    ];
  it.each(cases)("catches %s", (_, mutate, expected) => {
    const problems = checkOstmeshWorkloads(broken("ticket", mutate), { defaultDrainSeconds: 10 });
    expect(
      problems.some((p) => p.startsWith("Deployment/ticket:") && p.includes(expected)),
      problems.join("\n"),
    ).toBe(true);
  });
});

describe("durations", () => {
  it("reads the kit's duration format", () => {
    expect(durationSeconds("20s")).toBe(20);
    expect(durationSeconds("1500")).toBe(1.5);
    expect(durationSeconds("500ms")).toBe(0.5);
    expect(durationSeconds("2m")).toBe(120);
    expect(durationSeconds("1h")).toBe(3600);
    expect(durationSeconds("soon")).toBeNaN();
  });
});

describe("services, budgets and autoscalers", () => {
  it("catches a Service that selects nothing and one whose port leads nowhere", () => {
    const objects = structuredClone(base);
    const [first, second] = services(objects).filter(
      (s) => s.metadata?.name === "ticket" || s.metadata?.name === "identity",
    );
    if (first?.spec === undefined || second?.spec === undefined) throw new Error("fixture");
    first.spec.selector = { "app.kubernetes.io/name": "nothing" };
    second.spec.ports = [{ name: "x", port: 1, targetPort: "missing" }];
    const problems = checkServices(objects);
    expect(problems).toContain(`Service/${first.metadata?.name}: selects 0 workloads (want 1)`);
    expect(problems).toContain(
      `Service/${second.metadata?.name}: port x targets missing, not declared by ${second.metadata?.name}`,
    );
  });

  it("catches budgets that block drains or say nothing, and autoscalers with no or a mismatched target", () => {
    const objects = structuredClone(base);
    const pdbs = disruptionBudgets(objects);
    const hpas = autoscalers(objects);
    const [a, b, c] = pdbs;
    const [x, y, z] = hpas;
    if (!a?.spec || !b?.spec || !c?.spec || !x?.spec || !y?.spec || !z?.spec) throw new Error("fixture");
    a.spec.minAvailable = 2;
    b.spec.maxUnavailable = undefined;
    c.spec.maxUnavailable = 0;
    x.spec.scaleTargetRef.name = "ghost";
    y.spec.minReplicas = 3;
    z.spec.maxReplicas = 1;
    z.spec.minReplicas = 1;
    const problems = checkBudgetsAndAutoscalers(objects);
    expect(problems).toContain(
      `PodDisruptionBudget/${a.metadata?.name}: sets both of minAvailable and maxUnavailable`,
    );
    expect(problems).toContain(
      `PodDisruptionBudget/${a.metadata?.name}: minAvailable 2 >= 2 replicas blocks every drain`,
    );
    expect(problems).toContain(
      `PodDisruptionBudget/${b.metadata?.name}: sets neither of minAvailable and maxUnavailable`,
    );
    expect(problems).toContain(
      `PodDisruptionBudget/${c.metadata?.name}: maxUnavailable below 1 blocks every drain`,
    );
    expect(problems).toContain(
      `HorizontalPodAutoscaler/${x.metadata?.name}: target Deployment/ghost is not rendered`,
    );
    expect(problems).toContain(
      `HorizontalPodAutoscaler/${y.metadata?.name}: ${y.metadata?.name} has 2 replicas, outside 3..6`,
    );
    expect(problems).toContain(
      `HorizontalPodAutoscaler/${z.metadata?.name}: ${z.metadata?.name} has 2 replicas, outside 1..1`,
    );
  });
});

describe("references", () => {
  it("passes the base only when the external Secret is declared with its keys", () => {
    expect(checkReferences(base, { externalSecrets: EXTERNAL })).toEqual([]);
    const problems = checkReferences(base);
    expect(problems).toContain(
      "Deployment/ticket: container ticket env DATABASE_URL names Secret ostmesh-secrets, which is not rendered",
    );
    // An optional key may be absent.
    expect(problems.some((p) => p.includes("ATTACHMENT_LINK_PREVIOUS_SECRETS"))).toBe(false);
    const short = checkReferences(base, { externalSecrets: { "ostmesh-secrets": ["DATABASE_URL"] } });
    expect(short).toContain(
      "Deployment/identity: container identity env IDENTITY_KEY_ENCRYPTION_KEY needs key IDENTITY_KEY_ENCRYPTION_KEY of Secret ostmesh-secrets, which it lacks",
    );
  });

  it("catches a missing ConfigMap and a variable used before it is defined", () => {
    const objects = broken("gateway", (all, w) => {
      all.splice(
        all.findIndex((o) => o.kind === "ConfigMap"),
        1,
      );
      container(w).env?.unshift({ name: "EARLY", value: "$(POD_NAME)-x" });
    });
    const problems = checkReferences(objects, { externalSecrets: EXTERNAL });
    expect(
      problems.some((p) =>
        /Deployment\/gateway: container gateway envFrom names ConfigMap ostmesh-config-\w+, which is not rendered/.test(
          p,
        ),
      ),
    ).toBe(true);
    expect(problems).toContain(
      "Deployment/gateway: container gateway env EARLY uses $(POD_NAME) before it is defined",
    );
  });

  it("catches in-cluster URLs that name no Service or no port", () => {
    expect(checkServiceUrls(base)).toEqual([
      "ConfigMap/" +
        base.find((o) => o.kind === "ConfigMap")?.metadata.name +
        " NATS_URL=nats://nats:4222: no Service nats",
    ]);
    const objects = structuredClone(base);
    const ticket = services(objects).find((s) => s.metadata?.name === "ticket");
    if (ticket?.spec?.ports?.[0] === undefined) throw new Error("fixture");
    ticket.spec.ports[0].port = 50099;
    expect(
      checkServiceUrls(objects, ["nats"]).some((p) =>
        p.endsWith("TICKET_URL=http://ticket:50051: Service ticket has no port 50051"),
      ),
    ).toBe(true);
  });
});

describe("network policy model", () => {
  it("matches IPv4 CIDRs and never an IPv6 block", () => {
    expect(ipv4InCidr("10.1.2.3", "10.0.0.0/8")).toBe(true);
    expect(ipv4InCidr("11.1.2.3", "10.0.0.0/8")).toBe(false);
    expect(ipv4InCidr("169.254.169.254", "169.254.0.0/16")).toBe(true);
    expect(ipv4InCidr("1.2.3.4", "0.0.0.0/0")).toBe(true);
    expect(ipv4InCidr("1.2.3.4", "::/0")).toBe(false);
    expect(ipv4InCidr("1.2.3.4", "1.2.3.4/33")).toBe(false);
    expect(ipv4InCidr("1.2.3.400", "0.0.0.0/0")).toBe(false);
  });

  it("evaluates label selector expressions like the API server", () => {
    const labels = { a: "1", b: "2" };
    expect(selectorMatches({}, labels)).toBe(true);
    expect(selectorMatches(undefined, labels)).toBe(false);
    expect(
      selectorMatches({ matchExpressions: [{ key: "a", operator: "In", values: ["1", "3"] }] }, labels),
    ).toBe(true);
    expect(
      selectorMatches({ matchExpressions: [{ key: "a", operator: "NotIn", values: ["1"] }] }, labels),
    ).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "c", operator: "Exists" }] }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "c", operator: "DoesNotExist" }] }, labels)).toBe(
      true,
    );
    expect(selectorMatches({ matchExpressions: [{ key: "a", operator: "Bogus" }] }, labels)).toBe(false);
  });

  it("opens every pod when the default deny is gone", () => {
    const objects = structuredClone(base).filter(
      (o) => !(o.kind === "NetworkPolicy" && o.metadata.name === "default-deny-all"),
    );
    const problems = checkIsolation(objects, { gateway: ["http", "grpc"] });
    // The gateway and backend policies still isolate their own pods; the default deny is what makes DNS the
    // only thing a pod selected by no other policy can do. Here every ostmesh pod is still selected.
    expect(problems).toEqual([]);
    const noPolicies = structuredClone(base).filter((o) => o.kind !== "NetworkPolicy");
    const open = checkIsolation(noPolicies, { gateway: ["http", "grpc"] });
    expect(open).toContain("pod of ticket: no Ingress policy isolates it");
    expect(open).toContain("pod of ticket: port grpc is reachable from outside");
    expect(open).toContain("pod of ticket: may reach arbitrary outside ports");
  });

  it("catches a backend opened to the world, a closed public port and a lost DNS rule", () => {
    const objects = structuredClone(base).filter((o) => o.metadata.name !== "allow-dns-egress");
    const backend = networkPolicies(objects).find((p) => p.metadata?.name === "backend");
    const gateway = networkPolicies(objects).find((p) => p.metadata?.name === "gateway");
    if (backend?.spec?.ingress?.[0] === undefined || gateway?.spec === undefined) throw new Error("fixture");
    backend.spec.ingress[0].from = undefined;
    gateway.spec.ingress = [];
    const problems = checkIsolation(objects, { gateway: ["http", "grpc"] });
    expect(problems).toContain("pod of identity: port grpc is reachable from outside");
    expect(problems).toContain("pod of gateway: public port http is not reachable from outside");
    expect(problems).toContain("pod of ticket: cannot resolve names (DNS UDP)");
  });

  it("resolves named ports against the destination pod", () => {
    const model = new PolicyModel(base);
    expect(model.allows(INTERNET, model.pod("gateway"), 8080)).toBe(true);
    expect(model.allows(INTERNET, model.pod("gateway"), 9080)).toBe(false);
    expect(() => model.pod("nats")).toThrow("no workload nats in the render");
  });
});

describe("quantities", () => {
  it("parses CPU and memory quantities and refuses anything else", () => {
    expect(parseQuantity("250m")).toBeCloseTo(0.25);
    expect(parseQuantity("2")).toBe(2);
    expect(parseQuantity("512Mi")).toBe(512 * 2 ** 20);
    expect(parseQuantity("1.5Gi")).toBe(1.5 * 2 ** 30);
    expect(parseQuantity("1G")).toBe(1e9);
    expect(parseQuantity(3)).toBe(3);
    expect(parseQuantity("lots")).toBeNaN();
    expect(parseQuantity(undefined)).toBeNaN();
  });
});

const GOOD = `# syntax=docker/dockerfile:1
# Image ghcr.io/ostmesh/ticket — test
FROM node:24.21-bookworm-slim AS deps
COPY package.json ./
RUN npm ci --omit=dev \\
    -w @ostmesh/ticket --workspace=@ostmesh/kit
FROM node:24.21-bookworm-slim AS runtime
RUN rm -rf /usr/local/bin/npm
COPY --from=deps /app ./
COPY services/ticket/src services/ticket/src
USER 1000:1000
EXPOSE 50051 9091/tcp
CMD ["node", "--import", "@ostmesh/kit/telemetry/preload.ts", "services/ticket/src/main.ts"]
`;
const EXPECT = {
  image: "ghcr.io/ostmesh/ticket",
  entry: "services/ticket/src/main.ts",
  baseImage: "node:24.21-bookworm-slim",
  preload: "@ostmesh/kit/telemetry/preload.ts",
};

describe("Dockerfile checks", () => {
  it("accepts a good file and reports what it installs, copies and exposes", () => {
    const { problems, facts } = checkDockerfile(parseDockerfile(GOOD), EXPECT);
    expect(problems).toEqual([]);
    expect(facts.workspaces).toEqual(["@ostmesh/ticket", "@ostmesh/kit"]);
    expect(facts.copiedPaths).toEqual(["package.json", "services/ticket/src"]);
    expect(facts.exposedPorts).toEqual([50051, 9091]);
  });

  const cases: [string, (text: string) => string, string][] = [
    [
      "a floating base image",
      (t) => t.replace("FROM node:24.21-bookworm-slim AS runtime", "FROM node:latest AS runtime"),
      "stage runtime builds FROM node:latest",
    ],
    [
      "a single stage",
      (t) =>
        t
          .replace(/FROM node:24\.21-bookworm-slim AS deps[\s\S]*?FROM/, "FROM")
          .replace("COPY --from=deps /app ./\n", "RUN npm ci --omit=dev -w a\n"),
      "not a multi-stage build",
    ],
    ["a root user", (t) => t.replace("USER 1000:1000", "USER root"), "USER root is not a non-root user"],
    ["uid 0", (t) => t.replace("USER 1000:1000", "USER 0:0"), "USER 0:0 is not a non-root user"],
    ["no USER", (t) => t.replace("USER 1000:1000\n", ""), "the final stage runs as root (no USER)"],
    [
      "npm install",
      (t) => t.replace("npm ci --omit=dev", "npm install --omit=dev"),
      "uses npm install, not npm ci",
    ],
    ["dev dependencies", (t) => t.replace("npm ci --omit=dev", "npm ci"), "npm ci without --omit=dev"],
    [
      "every workspace",
      (t) => t.replace(/\\\n\s+-w @ostmesh\/ticket --workspace=@ostmesh\/kit/, ""),
      "npm ci installs every workspace",
    ],
    [
      "build tools in the final stage",
      (t) => t.replace("RUN rm -rf /usr/local/bin/npm", "RUN npm prune"),
      "the final stage runs a build tool: npm prune",
    ],
    [
      "a download",
      (t) => t.replace("COPY package.json ./", "ADD https://example.com/x.tgz /x"),
      "ADD downloads from the network",
    ],
    [
      "nothing from the build stage",
      (t) => t.replace("COPY --from=deps /app ./\n", ""),
      "copies nothing from an earlier stage",
    ],
    [
      "shell form",
      (t) => t.replace(/CMD .*/, "CMD node services/ticket/src/main.ts"),
      "CMD is not exec form",
    ],
    ["another program", (t) => t.replace('["node",', '["bun",'), "CMD runs bun, not node"],
    [
      "no preload",
      (t) => t.replace('"--import", "@ostmesh/kit/telemetry/preload.ts", ', ""),
      "CMD does not --import",
    ],
    [
      "another entry",
      (t) => t.replace('services/ticket/src/main.ts"]', 'services/ticket/src/other.ts"]'),
      "CMD runs services/ticket/src/other.ts",
    ],
    ["no CMD", (t) => t.replace(/CMD .*\n/, ""), "no CMD"],
    ["an ENTRYPOINT", (t) => t.replace("CMD", 'ENTRYPOINT ["tini"]\nCMD'), "sets an ENTRYPOINT"],
    [
      "no image comment",
      (t) => t.replace("# Image ghcr.io/ostmesh/ticket — test\n", ""),
      "no comment names the image",
    ],
  ];
  it.each(cases)("catches %s", (_, edit, expected) => {
    const { problems } = checkDockerfile(parseDockerfile(edit(GOOD)), EXPECT);
    expect(
      problems.some((p) => p.includes(expected)),
      problems.join("\n"),
    ).toBe(true);
  });

  it("refuses files it cannot parse", () => {
    expect(() => parseDockerfile("RUN true\nFROM x\n")).toThrow("line 1: RUN before the first FROM");
    expect(() => parseDockerfile("# only a comment\n")).toThrow("no FROM instruction");
    expect(parseDockerfile("FROM x\nRUN a \\\n\n  b \\\n").stages[0]?.instructions).toEqual([
      { keyword: "RUN", args: "a b", line: 2 },
    ]);
    expect(() => parseDockerfile("FROM a b c\n")).toThrow("malformed FROM");
    expect(() => parseDockerfile("FROM x\n[weird]\n")).toThrow("not an instruction");
    expect(parseDockerfile("ARG V=1\nFROM x\n").stages).toHaveLength(1);
  });

  it("reads exec form only from a JSON array of strings", () => {
    expect(execForm('["node", "a.ts"]')).toEqual(["node", "a.ts"]);
    expect(execForm("node a.ts")).toBeUndefined();
    expect(execForm('["node", 1]')).toBeUndefined();
    expect(execForm("[broken")).toBeUndefined();
    expect(execForm("[]")).toBeUndefined();
  });

  it("applies .dockerignore patterns to paths and their parents, last match winning", () => {
    const patterns = ["# comment", "**/node_modules", "docs", "*.md", "!README.md", "**/*.test.ts", "a?c"];
    expect(dockerIgnored(patterns, "x/y/node_modules/z.js")).toBe(true);
    expect(dockerIgnored(patterns, "docs/guide/index.html")).toBe(true);
    expect(dockerIgnored(patterns, "NOTES.md")).toBe(true);
    expect(dockerIgnored(patterns, "README.md")).toBe(false);
    expect(dockerIgnored(patterns, "src/a.test.ts")).toBe(true);
    expect(dockerIgnored(patterns, "abc")).toBe(true);
    expect(dockerIgnored(patterns, "src/a.ts")).toBe(false);
  });
});

describe("import closure", () => {
  let root = "";
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "ostmesh-k8s-imports-"));
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    write("package.json", JSON.stringify({ workspaces: ["packages/lib", "services/app"] }));
    write(
      "packages/lib/package.json",
      JSON.stringify({
        name: "@x/lib",
        dependencies: { pino: "1" },
        exports: { ".": "./src/index.ts", "./*": "./src/*" },
      }),
    );
    write(
      "services/app/package.json",
      JSON.stringify({ name: "@x/app", exports: { ".": "./src/index.ts" } }),
    );
    write(
      "packages/lib/src/index.ts",
      'import pino from "pino";\nexport * from "./util.ts";\nexport const log = pino;\n',
    );
    write("packages/lib/src/util.ts", "export const one = 1;\n");
    write("packages/lib/src/extra.ts", "export const two = 2;\n");
    write(
      "services/app/src/main.ts",
      [
        'import type { Foo } from "not-installed-types";',
        'import { log } from "@x/lib";',
        'import {\n  two,\n} from "@x/lib/extra.ts";',
        'import "./side.ts";',
        '// import "commented-out";',
        'const later = await import("./lazy.ts");',
        'import { readFileSync } from "node:fs";',
        'import { createServer } from "http";',
        'import express from "express";',
        'import { nope } from "@x/lib-missing";',
        'import { gone } from "./gone.ts";',
        'import { hidden } from "@x/app/hidden.ts";',
      ].join("\n"),
    );
    write("services/app/src/side.ts", "");
    write("services/app/src/lazy.ts", "export {};\n");
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("lists only run-time specifiers", () => {
    const specifiers = runtimeSpecifiers(
      'import type { A } from "a";\nexport type { B } from "b";\nimport { type C } from "c";\nexport * from "d";\n/* import "e"; */\nimport("f");\nimport "g";\n',
    );
    expect(specifiers.sort()).toEqual(["c", "d", "f", "g"]);
  });

  it("follows workspaces and relative files, and reports missing files and undeclared or unexported imports", () => {
    const closure = importClosure(root, ["services/app/src/main.ts"]);
    expect([...closure.files].sort()).toEqual([
      "packages/lib/src/extra.ts",
      "packages/lib/src/index.ts",
      "packages/lib/src/util.ts",
      "services/app/src/lazy.ts",
      "services/app/src/main.ts",
      "services/app/src/side.ts",
    ]);
    expect([...closure.workspaces].sort()).toEqual(["@x/app", "@x/lib"]);
    expect([...closure.packages].sort()).toEqual(["@x/lib-missing", "express", "pino"]);
    expect(closure.problems.sort()).toEqual([
      "services/app/src/gone.ts (imported by services/app/src/main.ts) does not exist",
      "services/app/src/main.ts imports @x/app/hidden.ts, which @x/app does not export",
      "services/app/src/main.ts imports @x/lib-missing, which @x/app does not declare as a dependency",
      "services/app/src/main.ts imports express, which @x/app does not declare as a dependency",
    ]);
  });

  it("resolves a bare entry through the workspace's exports", () => {
    const closure = importClosure(root, ["@x/lib/util.ts"]);
    expect([...closure.files]).toEqual(["packages/lib/src/util.ts"]);
  });
});
