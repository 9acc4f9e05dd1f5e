import type { IIoK8sApimachineryPkgApisMetaV1LabelSelector as LabelSelector } from "@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import {
  HorizontalPodAutoscaler,
  type IHorizontalPodAutoscaler,
} from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { type INetworkPolicy, NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import {
  type IPodDisruptionBudget,
  PodDisruptionBudget,
} from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap, type IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IContainerPort } from "kubernetes-models/v1/ContainerPort";
import { type INamespace, Namespace } from "kubernetes-models/v1/Namespace";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { type ISecret, Secret } from "kubernetes-models/v1/Secret";
import { type IService, Service } from "kubernetes-models/v1/Service";
import { type IServiceAccount, ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { KubeObject } from "./render.ts";

export type { LabelSelector };

/** A pod-owning object (Deployment or StatefulSet) seen through what every check needs. */
export interface Workload {
  kind: "Deployment" | "StatefulSet";
  name: string;
  namespace: string;
  labels: Record<string, string>;
  replicas: number;
  selector: LabelSelector;
  podLabels: Record<string, string>;
  podAnnotations: Record<string, string>;
  pod: IPodSpec;
  /** Names of a StatefulSet's volumeClaimTemplates (volumes its pods get besides pod.volumes). */
  claimTemplates: string[];
}

export const DEFAULT_NAMESPACE = "default";

export function workloads(objects: readonly KubeObject[]): Workload[] {
  const out: Workload[] = [];
  for (const object of objects) {
    if (Deployment.is(object) || StatefulSet.is(object)) {
      const spec = object.spec;
      if (spec === undefined) continue;
      out.push({
        kind: Deployment.is(object) ? "Deployment" : "StatefulSet",
        name: object.metadata?.name ?? "",
        namespace: object.metadata?.namespace ?? DEFAULT_NAMESPACE,
        labels: object.metadata?.labels ?? {},
        replicas: spec.replicas ?? 1,
        selector: spec.selector,
        podLabels: spec.template.metadata?.labels ?? {},
        podAnnotations: spec.template.metadata?.annotations ?? {},
        pod: spec.template.spec ?? { containers: [] },
        claimTemplates: StatefulSet.is(object)
          ? (object.spec?.volumeClaimTemplates ?? []).flatMap((claim) => claim.metadata?.name ?? [])
          : [],
      });
    }
  }
  return out;
}

export function allContainers(pod: IPodSpec): IContainer[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

export const services = (objects: readonly KubeObject[]): IService[] => objects.filter(isService);
export const networkPolicies = (objects: readonly KubeObject[]): INetworkPolicy[] =>
  objects.filter(isNetworkPolicy);
export const disruptionBudgets = (objects: readonly KubeObject[]): IPodDisruptionBudget[] =>
  objects.filter(isPdb);
export const autoscalers = (objects: readonly KubeObject[]): IHorizontalPodAutoscaler[] =>
  objects.filter(isHpa);
export const configMaps = (objects: readonly KubeObject[]): IConfigMap[] => objects.filter(isConfigMap);
export const secrets = (objects: readonly KubeObject[]): ISecret[] => objects.filter(isSecret);
export const serviceAccounts = (objects: readonly KubeObject[]): IServiceAccount[] =>
  objects.filter(isServiceAccount);
export const namespaces = (objects: readonly KubeObject[]): INamespace[] => objects.filter(isNamespace);

function isService(object: KubeObject): object is KubeObject & IService {
  return Service.is(object);
}
function isNetworkPolicy(object: KubeObject): object is KubeObject & INetworkPolicy {
  return NetworkPolicy.is(object);
}
function isPdb(object: KubeObject): object is KubeObject & IPodDisruptionBudget {
  return PodDisruptionBudget.is(object);
}
function isHpa(object: KubeObject): object is KubeObject & IHorizontalPodAutoscaler {
  return HorizontalPodAutoscaler.is(object);
}
function isConfigMap(object: KubeObject): object is KubeObject & IConfigMap {
  return ConfigMap.is(object);
}
function isSecret(object: KubeObject): object is KubeObject & ISecret {
  return Secret.is(object);
}
function isServiceAccount(object: KubeObject): object is KubeObject & IServiceAccount {
  return ServiceAccount.is(object);
}
function isNamespace(object: KubeObject): object is KubeObject & INamespace {
  return Namespace.is(object);
}

/** Label selector semantics of the API server: matchLabels AND every matchExpression; {} selects all. */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Record<string, string>,
): boolean {
  if (selector === undefined) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const expression of selector.matchExpressions ?? []) {
    const value = labels[expression.key];
    const values = expression.values ?? [];
    switch (expression.operator) {
      case "In":
        if (value === undefined || !values.includes(value)) return false;
        break;
      case "NotIn":
        if (value !== undefined && values.includes(value)) return false;
        break;
      case "Exists":
        if (value === undefined) return false;
        break;
      case "DoesNotExist":
        if (value !== undefined) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** A Service's plain map selector (no expressions). */
export function mapSelectorMatches(
  selector: Record<string, string>,
  labels: Record<string, string>,
): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** Resolves a port given by number or by name against a container's declared ports. */
export function resolveContainerPort(
  ports: readonly IContainerPort[] | undefined,
  port: number | string,
): IContainerPort | undefined {
  return (ports ?? []).find((declared) =>
    typeof port === "number" ? declared.containerPort === port : declared.name === port,
  );
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL: Record<string, number> = { m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** A resource.Quantity ("250m", "1", "512Mi", "1.5Gi") as a number; NaN when it is not one. */
export function parseQuantity(value: string | number | undefined): number {
  if (typeof value === "number") return value;
  if (value === undefined) return Number.NaN;
  const match = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|m|k|M|G|T|)$/.exec(value);
  if (match === null) return Number.NaN;
  const unit = match[2] ?? "";
  const scale = BINARY[unit] ?? DECIMAL[unit];
  return scale === undefined ? Number.NaN : Number(match[1]) * scale;
}
