/** A gateway process on port 0 in front of the stand-in upstreams, wired by startGateway as in production. */
import type { ServiceProcess } from "@ostmesh/kit";
import { Topology } from "@ostmesh/kit";
import { type CapturedLogs, captureLogs, testConfig } from "@ostmesh/kit/testing/harness.ts";
import { loadGatewayConfig } from "../config.ts";
import { startGateway } from "../server.ts";
import { GATEWAY_SECRET, startUpstreams, type UpstreamOptions, type Upstreams } from "./upstreams.ts";

export interface TestGateway {
  process: ServiceProcess;
  upstreams: Upstreams;
  logs: CapturedLogs;
  /** http://127.0.0.1:<public HTTP/1.1 port> */
  httpUrl: string;
  /** http://127.0.0.1:<h2c port> */
  h2cUrl: string;
  close(): Promise<void>;
}

export async function startTestGateway(
  databaseUrl: string,
  env: Readonly<Record<string, string>> = {},
  upstreamOptions: UpstreamOptions = {},
): Promise<TestGateway> {
  const upstreams = await startUpstreams(databaseUrl, upstreamOptions);
  const config = testConfig({
    DATABASE_URL: databaseUrl,
    TICKET_URL: upstreams.ticketUrl,
    IDENTITY_URL: upstreams.identityUrl,
    ATTACHMENT_URL: upstreams.attachmentUrl,
    NOTIFICATION_URL: upstreams.notificationUrl,
    ...env,
  });
  const gateway = loadGatewayConfig({
    GATEWAY_SERVICE_SECRET: GATEWAY_SECRET,
    GATEWAY_RATE_LIMIT: "0",
    ...env,
  });
  const logs = captureLogs("ostmesh-gateway");
  const topology = new Topology(config, []);
  const process = await startGateway({
    config,
    logger: logs.logger,
    topology,
    fronted: [],
    gateway,
    listen: { http: 0, h2c: 0, admin: 0 },
    handleSignals: false,
  });
  return {
    process,
    upstreams,
    logs,
    httpUrl: `http://127.0.0.1:${process.ports.http1[0]}`,
    h2cUrl: `http://127.0.0.1:${process.ports.h2c[0]}`,
    close: async () => {
      await process.shutdown();
      await upstreams.close();
    },
  };
}
