import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { authInterceptor } from "@ostmesh/kit/auth/interceptor.ts";
import { createTestIssuer, type TestIssuer } from "@ostmesh/kit/auth/testing/issuer.ts";
import type { Principal } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";

/**
 * A service behind the real authorization interceptor (ostmesh access tokens, the contract's access rules),
 * called in memory. `as(principal)` gives a client that presents a token for that principal.
 */
export async function authorizedService<S extends DescService>(
  service: S,
  impl: Partial<ServiceImpl<S>>,
): Promise<{ issuer: TestIssuer; as(principal: Principal): Promise<Client<S>>; anonymous: Client<S> }> {
  const issuer = await createTestIssuer();
  const transport = createRouterTransport((router) => router.service(service, impl), {
    router: { interceptors: [authInterceptor({ tokens: issuer.verifier })] },
  });
  return {
    issuer,
    anonymous: createClient(service, transport),
    async as(principal) {
      const token = await issuer.sign(principal, { ttlSec: 3600 });
      const signed = createRouterTransport((router) => router.service(service, impl), {
        router: { interceptors: [authInterceptor({ tokens: issuer.verifier })] },
        transport: {
          interceptors: [
            (next) => async (req) => {
              req.header.set("authorization", `Bearer ${token}`);
              return next(req);
            },
          ],
        },
      });
      return createClient(service, signed);
    },
  };
}
