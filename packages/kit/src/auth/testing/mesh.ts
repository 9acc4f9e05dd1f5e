import { IdentityService } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import type { Topology } from "../../rpc/topology.ts";
import { createMeshAuth, type MeshAuth } from "../mesh.ts";

/**
 * Mesh auth as a test's service processes run it, without reading the environment: ostmesh's tokens checked
 * against the JWKS of the identity service in `topology`, principals revalidated against `databaseUrl`, no
 * OIDC.
 */
export function testMeshAuth(topology: Topology, databaseUrl: string): MeshAuth {
  return createMeshAuth({
    config: {
      issuer: "urn:ostmesh:identity",
      audience: "urn:ostmesh:api",
      jwksUrl: undefined,
      revalidate: true,
      oidc: undefined,
    },
    identity: topology.client(IdentityService, "identity"),
    databaseUrl,
  });
}
