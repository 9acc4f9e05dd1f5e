import type { RegisterService } from "@ostmesh/kit";

/** The ticket service's name in the mesh (OSTMESH_SERVICES, TICKET_URL, health checks). */
export const name = "ticket";

/**
 * Adds the ticket service to a process: its RPC implementations (`router.service(...)`), the connections it
 * opens (closed through `deps.onShutdown`) and any readiness checks of its own. The process already serves
 * grpc.health.v1 and checks MySQL and NATS; the RPCs are registered here as they are built.
 */
export const register: RegisterService = () => {};
