import type { Client } from "@connectrpc/connect";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  type Health,
  HealthCheckResponse_ServingStatus,
} from "@ostmesh/proto/gen/grpc/health/v1/health_pb.js";
import mysql from "mysql2/promise";
import type { ReadinessCheck } from "./monitor.ts";

/** A readiness check that owns a connection; `close` releases it at shutdown. */
export interface OwnedCheck extends ReadinessCheck {
  close(): Promise<void>;
}

function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error("check aborted"));
  return new Promise<T>((resolve, reject) => {
    signal.addEventListener("abort", () => reject(new Error("check aborted")), { once: true });
    work.then(resolve, reject);
  });
}

/**
 * MySQL answers `SELECT 1` on DATABASE_URL (so the database must exist and the credentials work). Uses one
 * pooled connection of its own, opened on the first check and re-opened by the pool after a failure.
 */
export function mysqlCheck(
  databaseUrl: string,
  options: { name?: string; timeoutMs?: number } = {},
): OwnedCheck {
  const timeoutMs = options.timeoutMs ?? 2000;
  let pool: mysql.Pool | undefined;
  return {
    name: options.name ?? "mysql",
    async check(signal) {
      pool ??= mysql.createPool({
        uri: databaseUrl,
        connectionLimit: 1,
        maxIdle: 1,
        connectTimeout: timeoutMs,
        enableKeepAlive: true,
      });
      await abortable(pool.query({ sql: "SELECT 1", timeout: timeoutMs }), signal);
    },
    async close() {
      const current = pool;
      pool = undefined;
      await current?.end();
    },
  };
}

/**
 * NATS answers a round trip (PING/PONG flush) on NATS_URL. Keeps one connection of its own that reconnects
 * by itself; while it is reconnecting the flush does not return and the check fails on its timeout.
 */
export function natsCheck(
  natsUrl: string,
  options: { name?: string; timeoutMs?: number; required?: boolean } = {},
): OwnedCheck {
  const timeoutMs = options.timeoutMs ?? 2000;
  let connection: Promise<NatsConnection> | undefined;
  const open = () =>
    connect({
      servers: natsUrl,
      name: "ostmesh-readiness",
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
  return {
    name: options.name ?? "nats",
    required: options.required ?? true,
    async check(signal) {
      connection ??= open();
      let nc: NatsConnection;
      try {
        nc = await abortable(connection, signal);
      } catch (error) {
        connection = undefined; // connect again on the next check
        throw error;
      }
      if (nc.isClosed()) {
        connection = undefined;
        throw new Error("NATS connection closed");
      }
      await abortable(nc.flush(), signal);
    },
    async close() {
      const current = connection;
      connection = undefined;
      const nc = await current?.catch(() => undefined);
      if (nc && !nc.isClosed()) await nc.close();
    },
  };
}

/** Another service answers SERVING on grpc.health.v1 Check for `service` (the gateway's readiness). */
export function remoteHealthCheck(
  name: string,
  client: Client<typeof Health>,
  service: string,
  timeoutMs = 2000,
): ReadinessCheck {
  return {
    name,
    async check(signal) {
      const res = await client.check({ service }, { signal, timeoutMs });
      if (res.status !== HealthCheckResponse_ServingStatus.SERVING) {
        throw new Error(`${name} is ${HealthCheckResponse_ServingStatus[res.status] ?? res.status}`);
      }
    },
  };
}
