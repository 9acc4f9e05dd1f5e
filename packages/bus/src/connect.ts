import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { defaultLogger, describeError, type Logger } from "./log.ts";

export interface ConnectBusOptions {
  /** NATS_URL; comma-separated for a cluster (default nats://127.0.0.1:4222). */
  url?: string;
  /** Connection name as the server shows it (e.g. `ticket`). */
  name: string;
  /** First-connect and JetStream API timeout. */
  timeoutMs?: number;
  /** Keep trying the first connection instead of failing fast (for processes that start before NATS). */
  waitOnFirstConnect?: boolean;
  logger?: Logger;
}

export interface BusHealth {
  /** Round trip to the server (PING/PONG). */
  readonly rttMs: number;
  readonly serverVersion: string;
  /** JetStream account usage, proving the JetStream API answers. */
  readonly streams: number;
  readonly consumers: number;
  readonly storageBytes: number;
}

/** Shape of kit's `ReadinessCheck`, so a process can hand the bus check to its health monitor. */
export interface BusReadinessCheck {
  readonly name: string;
  check(signal: AbortSignal): Promise<void>;
}

export interface Bus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Round trip + JetStream account info; rejects when either does not answer within the timeout. */
  health(signal?: AbortSignal): Promise<BusHealth>;
  readinessCheck(name?: string): BusReadinessCheck;
  /** Drains subscriptions and pending publishes, then closes. */
  close(): Promise<void>;
}

export function natsUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.NATS_URL ?? "nats://127.0.0.1:4222";
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error(`${what}: aborted`));
      return;
    }
    const onAbort = () => finish(() => reject(new Error(`${what}: aborted`)));
    const timer = setTimeout(() => finish(() => reject(new Error(`${what}: no answer in ${ms} ms`))), ms);
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      settle();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(error)),
    );
  });
}

/**
 * Connects to NATS with reconnects that never give up (the client buffers publishes while reconnecting;
 * pull consumers resume by themselves), and checks that JetStream is enabled for the account.
 */
export async function connectBus(options: ConnectBusOptions): Promise<Bus> {
  const logger = options.logger ?? defaultLogger("connection");
  const timeoutMs = options.timeoutMs ?? 5_000;
  const nc = await connect({
    servers: (options.url ?? natsUrlFromEnv()).split(",").map((s) => s.trim()),
    name: options.name,
    timeout: timeoutMs,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    reconnectJitter: 500,
    pingInterval: 20_000,
    maxPingOut: 3,
    waitOnFirstConnect: options.waitOnFirstConnect ?? false,
  });
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: timeoutMs });
  } catch (error) {
    await nc.close();
    throw error;
  }
  const js = jetstream(nc, { timeout: timeoutMs });

  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") logger.warn({ server: status.server }, "NATS disconnected");
      else if (status.type === "reconnect") logger.info({ server: status.server }, "NATS reconnected");
      else if (status.type === "error") logger.error({ error: describeError(status.error) }, "NATS error");
      else if (status.type === "slowConsumer") logger.warn({ sub: status.sub }, "NATS slow consumer");
    }
  })().catch(() => {});

  async function health(signal?: AbortSignal): Promise<BusHealth> {
    if (nc.isClosed()) throw new Error("NATS connection is closed");
    const rttMs = await withTimeout(nc.rtt(), timeoutMs, "NATS round trip", signal);
    const account = await withTimeout(jsm.getAccountInfo(), timeoutMs, "JetStream account info", signal);
    return {
      rttMs,
      serverVersion: nc.info?.version ?? "unknown",
      streams: account.streams,
      consumers: account.consumers,
      storageBytes: account.storage,
    };
  }

  return {
    nc,
    js,
    jsm,
    health,
    readinessCheck(name = "nats") {
      return {
        name,
        async check(signal) {
          await health(signal);
        },
      };
    },
    async close() {
      if (nc.isClosed()) return;
      await nc.drain().catch(() => nc.close());
    },
  };
}

/** True when the connected server is at least `major.minor.patch`. */
export function serverAtLeast(nc: NatsConnection, version: string): boolean {
  const parse = (v: string) => v.split(/[.-]/).slice(0, 3).map(Number);
  const have = parse(nc.info?.version ?? "0.0.0");
  const want = parse(version);
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0;
    const b = want[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}
