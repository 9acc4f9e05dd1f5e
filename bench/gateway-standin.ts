/**
 * Child processes of bench/gateway.ts (stand-in mode), so the gateway's own CPU can be measured apart:
 *
 *   DATABASE_URL=… npx node bench/gateway-standin.ts upstreams   the test upstreams (osTicket key rules on a
 *       real database; a ticket service that answers without writing tickets); prints {urls…, token}
 *   DATABASE_URL=… UPSTREAMS='{…}' npx node bench/gateway-standin.ts gateway
 *       the gateway as in production (startGateway) in front of them; prints {url}
 */

import { loadGatewayConfig } from "@ostmesh/gateway/config.ts";
import { startGateway } from "@ostmesh/gateway/server.ts";
import { agentPrincipal, GATEWAY_SECRET, startUpstreams } from "@ostmesh/gateway/testing/upstreams.ts";
import { Topology } from "@ostmesh/kit";
import { testConfig } from "@ostmesh/kit/testing/harness.ts";
import { pino } from "pino";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error("DATABASE_URL is required");
const say = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

if (process.argv[2] === "upstreams") {
  const upstreams = await startUpstreams(databaseUrl);
  say({
    ticketUrl: upstreams.ticketUrl,
    identityUrl: upstreams.identityUrl,
    attachmentUrl: upstreams.attachmentUrl,
    notificationUrl: upstreams.notificationUrl,
    token: await upstreams.token(agentPrincipal(), 3600),
  });
  process.on("SIGTERM", () => {
    void upstreams.close().then(() => process.exit(0));
  });
} else {
  const urls: { ticketUrl: string; identityUrl: string; attachmentUrl: string; notificationUrl: string } =
    JSON.parse(process.env.UPSTREAMS ?? "{}");
  const config = testConfig({
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: "silent",
    TICKET_URL: urls.ticketUrl,
    IDENTITY_URL: urls.identityUrl,
    ATTACHMENT_URL: urls.attachmentUrl,
    NOTIFICATION_URL: urls.notificationUrl,
  });
  const started = await startGateway({
    config,
    gateway: loadGatewayConfig({ GATEWAY_SERVICE_SECRET: GATEWAY_SECRET, GATEWAY_RATE_LIMIT: "0" }),
    logger: pino({ enabled: false }),
    topology: new Topology(config, []),
    fronted: [],
    listen: { http: 0, h2c: 0, admin: 0 },
    handleSignals: false,
  });
  say({ url: `http://127.0.0.1:${started.ports.http1[0]}` });
  process.on("SIGTERM", () => {
    void started.shutdown().then(() => process.exit(0));
  });
}
