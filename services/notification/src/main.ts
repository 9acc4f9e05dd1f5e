/**
 * The notification service as its own process:
 *   node --import @ostmesh/kit/telemetry/preload.ts services/notification/src/main.ts
 * RPC on NOTIFICATION_PORT (h2c), /healthz /readyz /metrics on NOTIFICATION_ADMIN_PORT; SIGTERM drains and exits.
 */
import { runServices } from "@ostmesh/kit";
import { name, needsBus, register } from "./index.ts";

await runServices({ name: `ostmesh-${name}`, services: [{ name, register, needsBus }] });
