import type { DescService } from "@bufbuild/protobuf";
import {
  type Client,
  type ConnectRouter,
  type ConnectRouterOptions,
  createClient,
  createRouterTransport,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { MeshConfig, ServiceName } from "../config/mesh.ts";
import { clientTracingInterceptor } from "../telemetry/rpc.ts";
import { clientDeadlineInterceptor } from "./interceptors.ts";

/** Interceptors of every outgoing call, in order: trace context first, then deadline propagation. */
export function clientInterceptors(): Interceptor[] {
  return [clientTracingInterceptor(), clientDeadlineInterceptor()];
}

/**
 * Where each service of the mesh lives, as seen from this process. A service hosted here is called through
 * `createRouterTransport` over this process's own routes (same handlers, same server interceptors, no
 * network); any other through gRPC over h2c to its <SVC>_URL. Callers cannot tell the difference, so which
 * services share a process is configuration (OSTMESH_SERVICES), not code.
 */
export class Topology {
  readonly #config: MeshConfig;
  readonly #hosted: ReadonlySet<ServiceName>;
  readonly #interceptors: Interceptor[];
  readonly #remote = new Map<ServiceName, { transport: Transport; session: Http2SessionManager }>();
  #local: Transport | undefined;

  constructor(config: MeshConfig, hosted: readonly ServiceName[]) {
    this.#config = config;
    this.#hosted = new Set(hosted);
    this.#interceptors = clientInterceptors();
  }

  hosts(service: ServiceName): boolean {
    return this.#hosted.has(service);
  }

  get hosted(): ServiceName[] {
    return [...this.#hosted];
  }

  /** Called by the process bootstrap once its routes and server options are final. */
  attachLocalRoutes(routes: (router: ConnectRouter) => void, router: ConnectRouterOptions): void {
    this.#local = createRouterTransport(routes, {
      router,
      transport: {
        interceptors: this.#interceptors,
        readMaxBytes: this.#config.limits.maxMessageBytes,
        writeMaxBytes: this.#config.limits.maxMessageBytes,
      },
    });
  }

  /** A Connect client for `desc`, served by `service` wherever it runs. */
  client<T extends DescService>(desc: T, service: ServiceName): Client<T> {
    return createClient(desc, this.transport(service));
  }

  /**
   * The transport to `service`. Resolved at call time, so clients can be created while the process is
   * still registering its own routes.
   */
  transport(service: ServiceName): Transport {
    const resolve = (): Transport => {
      if (this.#hosted.has(service)) {
        if (!this.#local)
          throw new Error(`service ${service} is hosted here but its routes are not registered yet`);
        return this.#local;
      }
      return this.#remoteTransport(service);
    };
    return {
      unary: (method, signal, timeoutMs, header, input, contextValues) =>
        resolve().unary(method, signal, timeoutMs, header, input, contextValues),
      stream: (method, signal, timeoutMs, header, input, contextValues) =>
        resolve().stream(method, signal, timeoutMs, header, input, contextValues),
    };
  }

  #remoteTransport(service: ServiceName): Transport {
    let remote = this.#remote.get(service);
    if (!remote) {
      const baseUrl = this.#config.services[service].url;
      const session = new Http2SessionManager(baseUrl, { idleConnectionTimeoutMs: 60_000 });
      const transport = createGrpcTransport({
        baseUrl,
        sessionManager: session,
        interceptors: this.#interceptors,
        // Without an accepted encoding the other process answers uncompressed (gzip otherwise, for every
        // answer over 1 KiB: a list of tickets cost it and this process several percent of their CPU).
        ...(this.#config.limits.compressCalls ? {} : { acceptCompression: [] }),
        readMaxBytes: this.#config.limits.maxMessageBytes,
        writeMaxBytes: this.#config.limits.maxMessageBytes,
      });
      remote = { transport, session };
      this.#remote.set(service, remote);
    }
    return remote.transport;
  }

  /** Closes the HTTP/2 connections to other processes. */
  close(): void {
    for (const { session } of this.#remote.values()) session.abort();
    this.#remote.clear();
  }
}
