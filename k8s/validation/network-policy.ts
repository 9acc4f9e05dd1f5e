import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { INetworkPolicyPeer } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer";
import type { INetworkPolicyPort } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort";
import type { IContainerPort } from "kubernetes-models/v1/ContainerPort";
import { namespaces, networkPolicies, selectorMatches, workloads } from "./objects.ts";
import type { KubeObject } from "./render.ts";

/** A pod (of a rendered workload, or a stand-in such as kube-dns or Prometheus) or an address outside. */
export type Endpoint =
  | { kind: "pod"; name: string; namespace: string; labels: Record<string, string>; ports: IContainerPort[] }
  | { kind: "external"; ip: string };

export type Protocol = "TCP" | "UDP" | "SCTP";

/**
 * Evaluates NetworkPolicy semantics (networking.k8s.io/v1) over rendered objects: a connection is allowed
 * when the source's egress and the destination's ingress both allow it; a pod no policy of a direction
 * selects is open in that direction; rules are unions; peers combine podSelector AND namespaceSelector;
 * named ports resolve against the destination pod's container ports; ipBlock matches addresses outside
 * the cluster (IPv4), never pods.
 */
export class PolicyModel {
  readonly policies: INetworkPolicy[];
  readonly pods: Endpoint[];
  readonly #namespaceLabels = new Map<string, Record<string, string>>();

  constructor(objects: readonly KubeObject[], extraNamespaces: Record<string, Record<string, string>> = {}) {
    this.policies = networkPolicies(objects);
    this.pods = workloads(objects).map((w) => ({
      kind: "pod",
      name: w.name,
      namespace: w.namespace,
      labels: w.podLabels,
      ports: w.pod.containers.flatMap((c) => c.ports ?? []),
    }));
    for (const namespace of namespaces(objects)) {
      const name = namespace.metadata?.name ?? "";
      this.#namespaceLabels.set(name, { ...namespace.metadata?.labels, "kubernetes.io/metadata.name": name });
    }
    for (const [name, labels] of Object.entries(extraNamespaces)) {
      this.#namespaceLabels.set(name, { ...labels, "kubernetes.io/metadata.name": name });
    }
  }

  pod(name: string): Endpoint & { kind: "pod" } {
    const found = this.pods.find((pod) => pod.kind === "pod" && pod.name === name);
    if (found === undefined || found.kind !== "pod") throw new Error(`no workload ${name} in the render`);
    return found;
  }

  namespaceLabels(namespace: string): Record<string, string> {
    return this.#namespaceLabels.get(namespace) ?? { "kubernetes.io/metadata.name": namespace };
  }

  /** The policies of one direction that select a pod (those that isolate it in that direction). */
  selecting(pod: Endpoint & { kind: "pod" }, direction: "Ingress" | "Egress"): INetworkPolicy[] {
    return this.policies.filter(
      (policy) =>
        (policy.metadata?.namespace ?? "default") === pod.namespace &&
        selectorMatches(policy.spec?.podSelector, pod.labels) &&
        policyTypes(policy).includes(direction),
    );
  }

  allows(source: Endpoint, destination: Endpoint, port: number, protocol: Protocol = "TCP"): boolean {
    if (source.kind === "external" && destination.kind === "external") return true;
    if (source.kind === "pod" && !this.#egressAllows(source, destination, port, protocol)) return false;
    if (destination.kind === "pod" && !this.#ingressAllows(destination, source, port, protocol)) return false;
    return true;
  }

  #egressAllows(
    pod: Endpoint & { kind: "pod" },
    destination: Endpoint,
    port: number,
    protocol: Protocol,
  ): boolean {
    const policies = this.selecting(pod, "Egress");
    if (policies.length === 0) return true;
    return policies.some((policy) =>
      (policy.spec?.egress ?? []).some(
        (rule) =>
          this.#peersMatch(rule.to, policy, destination) &&
          portsMatch(rule.ports, port, protocol, destination.kind === "pod" ? destination.ports : []),
      ),
    );
  }

  #ingressAllows(
    pod: Endpoint & { kind: "pod" },
    source: Endpoint,
    port: number,
    protocol: Protocol,
  ): boolean {
    const policies = this.selecting(pod, "Ingress");
    if (policies.length === 0) return true;
    return policies.some((policy) =>
      (policy.spec?.ingress ?? []).some(
        (rule) =>
          this.#peersMatch(rule.from, policy, source) && portsMatch(rule.ports, port, protocol, pod.ports),
      ),
    );
  }

  #peersMatch(peers: INetworkPolicyPeer[] | undefined, policy: INetworkPolicy, peer: Endpoint): boolean {
    if (peers === undefined || peers.length === 0) return true;
    const policyNamespace = policy.metadata?.namespace ?? "default";
    return peers.some((candidate) => {
      if (candidate.ipBlock !== undefined) {
        if (peer.kind !== "external") return false;
        return (
          ipv4InCidr(peer.ip, candidate.ipBlock.cidr) &&
          !(candidate.ipBlock.except ?? []).some((cidr) => ipv4InCidr(peer.ip, cidr))
        );
      }
      if (peer.kind !== "pod") return false;
      const namespaceOk =
        candidate.namespaceSelector === undefined
          ? peer.namespace === policyNamespace
          : selectorMatches(candidate.namespaceSelector, this.namespaceLabels(peer.namespace));
      const podOk =
        candidate.podSelector === undefined || selectorMatches(candidate.podSelector, peer.labels);
      return namespaceOk && podOk;
    });
  }
}

function policyTypes(policy: INetworkPolicy): string[] {
  const declared = policy.spec?.policyTypes;
  if (declared !== undefined && declared.length > 0) return declared;
  return policy.spec?.egress === undefined ? ["Ingress"] : ["Ingress", "Egress"];
}

function portsMatch(
  ports: INetworkPolicyPort[] | undefined,
  port: number,
  protocol: Protocol,
  destinationPorts: readonly IContainerPort[],
): boolean {
  if (ports === undefined || ports.length === 0) return true;
  return ports.some((rule) => {
    if ((rule.protocol ?? "TCP") !== protocol) return false;
    if (rule.port === undefined) return true;
    if (typeof rule.port === "string") {
      return destinationPorts.some(
        (declared) =>
          declared.name === rule.port &&
          declared.containerPort === port &&
          (declared.protocol ?? "TCP") === protocol,
      );
    }
    return rule.endPort === undefined ? rule.port === port : port >= rule.port && port <= rule.endPort;
  });
}

function ipv4ToNumber(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

/** Whether an IPv4 address lies in a CIDR block; IPv6 blocks never hold an IPv4 address. */
export function ipv4InCidr(ip: string, cidr: string): boolean {
  const [network, bitsText] = cidr.split("/");
  const address = ipv4ToNumber(ip);
  const base = ipv4ToNumber(network ?? "");
  const bits = Number(bitsText);
  if (address === undefined || base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32)
    return false;
  const size = 2 ** (32 - bits);
  return Math.floor(address / size) === Math.floor(base / size);
}

/** Stand-ins for pods outside the render that the policies must let in or out. */
export const KUBE_DNS: Endpoint = {
  kind: "pod",
  name: "kube-dns",
  namespace: "kube-system",
  labels: { "k8s-app": "kube-dns" },
  ports: [
    { name: "dns", containerPort: 53, protocol: "UDP" },
    { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
  ],
};

export const PROMETHEUS: Endpoint = {
  kind: "pod",
  name: "prometheus",
  namespace: "monitoring",
  labels: { "app.kubernetes.io/name": "prometheus" },
  ports: [{ name: "web", containerPort: 9090 }],
};

/** An address on the internet (TEST-NET-3, never routed). */
export const INTERNET: Endpoint = { kind: "external", ip: "203.0.113.10" };

/**
 * Namespace-wide guarantees: every rendered pod is isolated in both directions, may resolve names, and
 * only the public ports of the gateway take connections from outside the cluster.
 */
export function checkIsolation(
  objects: readonly KubeObject[],
  publicPorts: Readonly<Record<string, readonly string[]>>,
): string[] {
  const problems: string[] = [];
  const model = new PolicyModel(objects, { "kube-system": {}, monitoring: {} });
  for (const pod of model.pods) {
    if (pod.kind !== "pod") continue;
    const at = `pod of ${pod.name}`;
    for (const direction of ["Ingress", "Egress"] as const) {
      if (model.selecting(pod, direction).length === 0)
        problems.push(`${at}: no ${direction} policy isolates it`);
    }
    for (const protocol of ["UDP", "TCP"] as const) {
      if (!model.allows(pod, KUBE_DNS, 53, protocol))
        problems.push(`${at}: cannot resolve names (DNS ${protocol})`);
    }
    for (const port of pod.ports) {
      const open = model.allows(INTERNET, pod, port.containerPort, port.protocol === "UDP" ? "UDP" : "TCP");
      const wanted = (publicPorts[pod.name] ?? []).includes(port.name ?? "");
      if (open && !wanted)
        problems.push(`${at}: port ${port.name ?? port.containerPort} is reachable from outside`);
      if (!open && wanted) problems.push(`${at}: public port ${port.name} is not reachable from outside`);
    }
    if (model.allows(pod, INTERNET, 8443)) problems.push(`${at}: may reach arbitrary outside ports`);
  }
  return problems;
}
