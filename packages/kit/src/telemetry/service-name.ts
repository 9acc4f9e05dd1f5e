/**
 * The name a process reports (OTel service.name, the `service` field of log lines) when OTEL_SERVICE_NAME
 * is unset: `ostmesh-<service>` for services/<service>/src/main.ts, `ostmesh-gateway` for the gateway,
 * `ostmesh` for anything else (the single-process mesh).
 */
export function processServiceName(entry: string | undefined): string {
  const path = (entry ?? "").replaceAll("\\", "/");
  const service = /\/services\/([a-z]+)\/src\/[^/]+$/.exec(path)?.[1];
  if (service) return `ostmesh-${service}`;
  if (/\/gateway\/src\/[^/]+$/.test(path)) return "ostmesh-gateway";
  return "ostmesh";
}
