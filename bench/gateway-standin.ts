/**
 * Child process of bench/gateway.ts (stand-in mode): the gateway as in production (startGateway) in front of
 * the test upstreams (osTicket key rules on a real database, a ticket service that answers without writing
 * tickets). Measures the edge's own cost. Prints one JSON line {url, token} when ready.
 *
 *   DATABASE_URL=mysql://root@127.0.0.1:3306/<db> npx node bench/gateway-standin.ts
 */

import { loadGatewayConfig } from "@ostmesh/gateway/config.ts";
import { startGateway } from "@ostmesh/gateway/server.ts";
import { agentPrincipal, GATEWAY_SECRET, startUpstreams } from "@ostmesh/gateway/testing/upstreams.ts";
import { Topology } from "@ostmesh/kit";
import { testConfig } from "@ostmesh/kit/testing/harness.ts";
import { pino } from "pino";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error("DATABASE_URL is required");
const upstreams = await startUpstreams(databaseUrl);
const config = testConfig({
  DATABASE_URL: databaseUrl,
  LOG_LEVEL: "silent",
  TICKET_URL: upstreams.ticketUrl,
  IDENTITY_URL: upstreams.identityUrl,
  ATTACHMENT_URL: upstreams.attachmentUrl,
  NOTIFICATION_URL: upstreams.notificationUrl,
});
const gateway = loadGatewayConfig({ GATEWAY_SERVICE_SECRET: GATEWAY_SECRET, GATEWAY_RATE_LIMIT: "0" });
const started = await startGateway({
  config,
  gateway,
  logger: pino({ enabled: false }),
  topology: new Topology(config, []),
  fronted: [],
  listen: { http: 0, h2c: 0, admin: 0 },
  handleSignals: false,
});
const token = await upstreams.token(agentPrincipal(), 3600);
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${started.ports.http1[0]}`, token })}\n`);
process.on("SIGTERM", () => {
  void started
    .shutdown()
    .then(() => upstreams.close())
    .then(() => process.exit(0));
});
