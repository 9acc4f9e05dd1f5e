/**
 * `node --import @ostmesh/kit/telemetry/preload.ts <entry>`: starts OpenTelemetry before the application's
 * modules load. In ESM, instrumentations can only patch modules (node:http, mysql2) that are imported AFTER
 * the import-in-the-middle loader hook is registered, so this module registers the hook first and imports
 * everything else dynamically.
 *
 * The hook runs in the application's thread (`module.registerHooks`), not on a loader thread that every
 * module resolution would wait for: a service's startup costs about a second less. It wraps only the modules
 * an instrumentation patches (INSTRUMENTED_MODULES), so the application's own TypeScript modules load
 * untouched. A bad OTEL_* / OSTMESH_TRACE_RATIO value stops the process with one line (exit 78), like every
 * other configuration error.
 */
import { register } from "import-in-the-middle/register-hooks.mjs";
import { INSTRUMENTED_MODULES } from "./instrumented-modules.ts";

register({ include: [...INSTRUMENTED_MODULES] });

const { configOrExit } = await import("../config/env.ts");
const { loadMeshConfig } = await import("../config/mesh.ts");
const { startTelemetry } = await import("./sdk.ts");
const { processServiceName } = await import("./service-name.ts");

const name = processServiceName(process.argv[1]);
const config = configOrExit(() => loadMeshConfig(), name);
startTelemetry({
  serviceName: config.telemetry.serviceName ?? name,
  otlpEndpoint: config.telemetry.otlpEndpoint,
  traceRatio: config.telemetry.traceRatio,
});
