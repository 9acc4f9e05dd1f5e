import { randomBytes } from "node:crypto";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import mysql from "mysql2/promise";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthMonitor } from "../health/monitor.ts";
import { watchConsumerLag } from "./consumer-lag.ts";
import { mikroOrmPoolSource, mysql2PoolStats, watchDbPool } from "./db-pool.ts";
import { DELIVERY_OUTCOMES, deliveryMetrics } from "./delivery.ts";
import { watchReadiness } from "./readiness.ts";

const MYSQL = process.env.TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const NATS = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

/** The value of one sample in the text exposition, or undefined when the series is absent. */
async function sample(registry: Registry | string, series: string): Promise<number | undefined> {
  const text = typeof registry === "string" ? registry : await registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("database pool metrics", () => {
  const pool = mysql.createPool({ uri: MYSQL, connectionLimit: 2 });
  afterAll(() => pool.end());

  it("reads in-use, idle and waiting callers from a real mysql2 pool", async () => {
    const registry = new Registry();
    watchDbPool(registry, { name: "main", stats: () => mysql2PoolStats(pool) });
    expect(await sample(registry, 'ostmesh_db_pool_max_connections{pool="main"}')).toBe(2);
    expect(await sample(registry, 'ostmesh_db_pool_connections{pool="main",state="in_use"}')).toBe(0);

    const a = await pool.getConnection();
    const b = await pool.getConnection();
    const third = pool.getConnection(); // waits: the pool is at its limit
    await new Promise((r) => setTimeout(r, 20));
    expect(await sample(registry, 'ostmesh_db_pool_connections{pool="main",state="in_use"}')).toBe(2);
    expect(await sample(registry, 'ostmesh_db_pool_pending_requests{pool="main"}')).toBe(1);

    a.release();
    const c = await third;
    b.release();
    c.release();
    expect(await sample(registry, 'ostmesh_db_pool_pending_requests{pool="main"}')).toBe(0);
    expect(await sample(registry, 'ostmesh_db_pool_connections{pool="main",state="in_use"}')).toBe(0);
    expect(await sample(registry, 'ostmesh_db_pool_connections{pool="main",state="idle"}')).toBe(2);
  });

  it("reads the pool behind an ORM-shaped owner, several pools per registry, and forgets removed ones", async () => {
    const registry = new Registry();
    const owner = {
      em: { getDriver: () => ({ getConnection: () => ({ getNativeClient: async () => pool }) }) },
    };
    const remove = watchDbPool(registry, mikroOrmPoolSource("orm", owner));
    watchDbPool(registry, { name: "other", stats: () => ({ inUse: 3, idle: 1, pending: 4, max: 8 }) });
    expect(await sample(registry, 'ostmesh_db_pool_max_connections{pool="orm"}')).toBe(2);
    expect(await sample(registry, 'ostmesh_db_pool_pending_requests{pool="other"}')).toBe(4);
    remove();
    expect(await sample(registry, 'ostmesh_db_pool_max_connections{pool="orm"}')).toBeUndefined();
    expect(await sample(registry, 'ostmesh_db_pool_max_connections{pool="other"}')).toBe(8);
  });

  it("exports nothing for a closed pool, an unknown shape or a failing source instead of failing the scrape", async () => {
    const closed = mysql.createPool({ uri: MYSQL });
    await closed.end();
    expect(mysql2PoolStats(closed)).toBeUndefined();
    expect(mysql2PoolStats({ pool: {} })).toBeUndefined();
    expect(mysql2PoolStats(null)).toBeUndefined();
    const registry = new Registry();
    watchDbPool(registry, { name: "broken", stats: () => Promise.reject(new Error("boom")) });
    const failing = {
      em: {
        getDriver: () => ({
          getConnection: () => ({ getNativeClient: () => Promise.reject(new Error("down")) }),
        }),
      },
    };
    watchDbPool(registry, mikroOrmPoolSource("down", failing));
    const text = await registry.metrics();
    expect(text).toContain("# TYPE ostmesh_db_pool_connections gauge");
    expect(text).not.toContain('pool="broken"');
    expect(text).not.toContain('pool="down"');
  });
});

describe("consumer lag metrics", () => {
  let nc: NatsConnection;
  const suffix = `${process.env.OSTMESH_TEST_RUN ?? "run"}_${randomBytes(3).toString("hex")}`;
  const stream = `KIT_LAG_${suffix}`;
  const subject = `kitlag.${suffix}`;
  const durable = `lag_${suffix}`;

  beforeAll(async () => {
    nc = await connect({ servers: NATS });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${subject}.>`] });
    await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit });
  });
  afterAll(async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => false);
    await nc.close();
  });

  it("reports pending and ack-pending messages of a real JetStream consumer", async () => {
    const registry = new Registry();
    const jsm = await jetstreamManager(nc);
    watchConsumerLag(registry, jsm.consumers, { stream, consumer: durable });
    const labels = `{stream="${stream}",consumer="${durable}"}`;
    expect(await sample(registry, `ostmesh_consumer_pending_messages${labels}`)).toBe(0);

    const js = jetstream(nc);
    for (let i = 0; i < 3; i++) await js.publish(`${subject}.e`, `m${i}`);
    expect(await sample(registry, `ostmesh_consumer_pending_messages${labels}`)).toBe(3);

    const consumer = await js.consumers.get(stream, durable);
    const msg = await consumer.next({ expires: 5000 });
    expect(msg).not.toBeNull();
    expect(await sample(registry, `ostmesh_consumer_pending_messages${labels}`)).toBe(2);
    expect(await sample(registry, `ostmesh_consumer_ack_pending_messages${labels}`)).toBe(1);
    // The server answers a double ack only after the consumer has taken the ack in; a plain ack and a
    // flush prove only that the server read it, not that its consumer state changed yet.
    expect(await msg?.ackAck()).toBe(true);
    expect(await sample(registry, `ostmesh_consumer_ack_pending_messages${labels}`)).toBe(0);
  });

  it("counts a consumer the server does not know as an info error and stops after unwatch", async () => {
    const registry = new Registry();
    const jsm = await jetstreamManager(nc);
    const stop = watchConsumerLag(registry, jsm.consumers, { stream, consumer: "missing" });
    const labels = `{stream="${stream}",consumer="missing"}`;
    const scrape = await registry.metrics();
    expect(await sample(scrape, `ostmesh_consumer_pending_messages${labels}`)).toBeUndefined();
    expect(await sample(scrape, `ostmesh_consumer_info_errors_total${labels}`)).toBe(1);
    expect(await sample(registry, `ostmesh_consumer_info_errors_total${labels}`)).toBe(2);
    stop();
    await registry.metrics();
    expect(await sample(registry, `ostmesh_consumer_info_errors_total${labels}`)).toBe(2);
  });

  it("gives up on a server that does not answer within the timeout", async () => {
    const registry = new Registry();
    const hanging = { info: () => new Promise<never>(() => undefined) };
    watchConsumerLag(registry, hanging, { stream: "S", consumer: "c" }, 50);
    const started = performance.now();
    expect(await sample(registry, 'ostmesh_consumer_info_errors_total{stream="S",consumer="c"}')).toBe(1);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("delivery metrics", () => {
  it("starts every outcome at zero and counts attempts, durations and the queue per channel", async () => {
    const registry = new Registry();
    const metrics = deliveryMetrics(registry);
    expect(deliveryMetrics(registry)).toBe(metrics);
    for (const outcome of DELIVERY_OUTCOMES)
      expect(
        await sample(registry, `ostmesh_delivery_attempts_total{channel="webhook",outcome="${outcome}"}`),
      ).toBe(0);
    metrics.attempt("webhook", "success", 0.02);
    metrics.attempt("webhook", "http_error", 0.3);
    metrics.attempt("webhook", "http_error", 0.4);
    metrics.attempt("email", "dead", 1);
    metrics.queued("webhook", 5);
    expect(
      await sample(registry, 'ostmesh_delivery_attempts_total{channel="webhook",outcome="http_error"}'),
    ).toBe(2);
    expect(await sample(registry, 'ostmesh_delivery_attempts_total{channel="email",outcome="dead"}')).toBe(1);
    expect(
      await sample(
        registry,
        'ostmesh_delivery_duration_seconds_count{channel="webhook",outcome="http_error"}',
      ),
    ).toBe(2);
    expect(
      await sample(
        registry,
        'ostmesh_delivery_duration_seconds_bucket{le="0.05",channel="webhook",outcome="success"}',
      ),
    ).toBe(1);
    expect(await sample(registry, 'ostmesh_delivery_queued{channel="webhook"}')).toBe(5);
  });
});

describe("readiness metrics", () => {
  it("reports readiness, each check, and counts flips", async () => {
    let dbUp = true;
    const health = new HealthMonitor({
      checks: [
        {
          name: "mysql",
          check: async () => {
            if (!dbUp) throw new Error("down");
          },
        },
      ],
      services: ["ticket"],
      intervalMs: 60_000,
      checkTimeoutMs: 1000,
      logger: pino({ enabled: false }),
    });
    const registry = new Registry();
    const stop = watchReadiness(registry, health);
    expect(await sample(registry, "ostmesh_ready")).toBe(0);
    await health.evaluate();
    expect(await sample(registry, "ostmesh_ready")).toBe(1);
    expect(await sample(registry, 'ostmesh_readiness_check_ok{check="mysql"}')).toBe(1);
    dbUp = false;
    await health.evaluate();
    expect(await sample(registry, "ostmesh_ready")).toBe(0);
    expect(await sample(registry, 'ostmesh_readiness_check_ok{check="mysql"}')).toBe(0);
    dbUp = true;
    await health.evaluate();
    expect(await sample(registry, "ostmesh_readiness_transitions_total")).toBe(2);
    health.shutdown();
    expect(await sample(registry, "ostmesh_ready")).toBe(0);
    stop();
  });
});
