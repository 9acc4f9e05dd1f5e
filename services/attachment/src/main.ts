/**
 * The attachment service as its own process:
 *   node --import @ostmesh/kit/telemetry/preload.ts services/attachment/src/main.ts
 * RPC on ATTACHMENT_PORT (h2c), /healthz /readyz /metrics on ATTACHMENT_ADMIN_PORT; SIGTERM drains and exits.
 */
import { runServices } from "@ostmesh/kit";
import { name, register } from "./index.ts";

await runServices({ name: `ostmesh-${name}`, services: [{ name, register }] });
