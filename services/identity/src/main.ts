/**
 * The identity service as its own process:
 *   node --import @ostmesh/kit/telemetry/preload.ts services/identity/src/main.ts
 * RPC on IDENTITY_PORT (h2c), /healthz /readyz /metrics on IDENTITY_ADMIN_PORT; SIGTERM drains and exits.
 */
import { runServices } from "@ostmesh/kit";
import { name, register } from "./index.ts";

await runServices({ name: `ostmesh-${name}`, services: [{ name, register }] });
