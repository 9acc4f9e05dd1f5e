import { spawn } from "node:child_process";
import { connect as connectTcp } from "node:net";
import { StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { freePort } from "@ostmesh/kit/testing/ports.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Bus, connectBus, serverAtLeast } from "./connect.ts";
import {
  DEFAULT_EVENT_STREAM,
  ensureStreams,
  eventStream,
  eventStreamFromEnv,
  eventSubject,
  streamWildcard,
} from "./streams.ts";
import { waitFor } from "./testing/harness.ts";
import { silentLogger } from "./testing/log.ts";
import { deleteStreams, testStream } from "./testing/names.ts";

let bus: Bus;

/** A port nothing listens on (taken from the OS, then released). */

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
const created: string[] = [];

beforeAll(async () => {
  bus = await connectBus({ name: "bus-streams-test", logger: silentLogger() });
});

afterAll(async () => {
  await deleteStreams(bus.jsm, created);
  await bus.close();
});

describe("stream definitions", () => {
  it("defaults to OSTICKET_EVENTS on osticket.events.> with file storage and a 2 minute duplicate window", () => {
    expect(DEFAULT_EVENT_STREAM.name).toBe("OSTICKET_EVENTS");
    expect(streamWildcard(DEFAULT_EVENT_STREAM)).toBe("osticket.events.>");
    expect(DEFAULT_EVENT_STREAM.storage).toBe("file");
    expect(DEFAULT_EVENT_STREAM.duplicateWindowMs).toBe(120_000);
    expect(eventSubject(DEFAULT_EVENT_STREAM, "ticket", "created")).toBe("osticket.events.ticket.created");
  });

  it("rejects invalid names, prefixes, tokens and windows", () => {
    expect(() => eventStream({ name: "bad name" })).toThrow(/invalid stream name/);
    expect(() => eventStream({ subjectPrefix: "a.*" })).toThrow(/invalid subject prefix/);
    expect(() => eventStream({ subjectPrefix: "a..b" })).toThrow(/invalid subject prefix/);
    expect(() => eventStream({ duplicateWindowMs: 10_000, maxAgeMs: 5_000 })).toThrow(/duplicateWindowMs/);
    expect(() => eventStream({ replicas: 0 })).toThrow(/replicas/);
    expect(() => eventSubject(DEFAULT_EVENT_STREAM)).toThrow(/at least one token/);
    expect(() => eventSubject(DEFAULT_EVENT_STREAM, "ticket.created")).toThrow(/invalid subject token/);
    expect(() => eventSubject(DEFAULT_EVENT_STREAM, ">")).toThrow(/invalid subject token/);
  });

  it("reads names and limits from the environment", () => {
    const def = eventStreamFromEnv({
      NATS_EVENTS_STREAM: "OTHER_EVENTS",
      NATS_EVENTS_SUBJECT_PREFIX: "other.events",
      NATS_EVENTS_REPLICAS: "3",
      NATS_EVENTS_MAX_AGE_HOURS: "48",
    });
    expect(def).toMatchObject({
      name: "OTHER_EVENTS",
      subjectPrefix: "other.events",
      replicas: 3,
      maxAgeMs: 48 * 3_600_000,
    });
    expect(eventStreamFromEnv({})).toEqual(DEFAULT_EVENT_STREAM);
  });
});

describe("ensureStreams", () => {
  it("creates the stream, is idempotent, and updates a changed definition", async () => {
    const def = testStream("ensure", { storage: "file" });
    created.push(def.name);
    const [first] = await ensureStreams(bus.jsm, def);
    expect(first?.config).toMatchObject({
      name: def.name,
      subjects: [streamWildcard(def)],
      storage: StorageType.File,
      duplicate_window: nanos(120_000),
      max_age: nanos(3_600_000),
      deny_delete: true,
      discard: "old",
    });

    const [again] = await ensureStreams(bus.jsm, [def]);
    expect(again?.created).toBe(first?.created);

    const [updated] = await ensureStreams(bus.jsm, { ...def, maxAgeMs: 7_200_000 });
    expect(updated?.config.max_age).toBe(nanos(7_200_000));
    expect((await bus.jsm.streams.info(def.name)).config.max_age).toBe(nanos(7_200_000));
  });

  it("surfaces a change the server cannot make (storage type)", async () => {
    const def = testStream("immutable", { storage: "file" });
    created.push(def.name);
    await ensureStreams(bus.jsm, def);
    await expect(ensureStreams(bus.jsm, { ...def, storage: "memory" })).rejects.toThrow();
    expect((await bus.jsm.streams.info(def.name)).config.storage).toBe(StorageType.File);
  });
});

describe("ensureStreams errors", () => {
  it("rethrows what it cannot resolve by updating (subjects another stream already captures)", async () => {
    const def = testStream("owner");
    created.push(def.name);
    await ensureStreams(bus.jsm, def);
    const rival = { ...testStream("rival"), subjectPrefix: def.subjectPrefix };
    await expect(ensureStreams(bus.jsm, rival)).rejects.toThrow(/overlap/i);
    await expect(bus.jsm.streams.info(rival.name)).rejects.toThrow(/not found/i);
  });
});

describe("connectBus", () => {
  it("reports health: round trip, server version and JetStream account info", async () => {
    const health = await bus.health();
    expect(health.rttMs).toBeGreaterThanOrEqual(0);
    expect(health.serverVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(health.streams).toBeGreaterThanOrEqual(0);
    const check = bus.readinessCheck("events");
    expect(check.name).toBe("events");
    await expect(check.check(new AbortController().signal)).resolves.toBeUndefined();
    expect(serverAtLeast(bus.nc, "2.0.0")).toBe(true);
    expect(serverAtLeast(bus.nc, "99.0.0")).toBe(false);
  });

  it("fails health checks once closed, and on an aborted signal", async () => {
    const other = await connectBus({ name: "bus-health-closed", logger: silentLogger() });
    const aborted = new AbortController();
    aborted.abort();
    await expect(other.health(aborted.signal)).rejects.toThrow(/aborted/);
    await other.close();
    await expect(other.health()).rejects.toThrow(/closed/);
    await expect(other.readinessCheck().check(new AbortController().signal)).rejects.toThrow(/closed/);
  });

  it("refuses a server without JetStream, and closes the connection it opened", async () => {
    const port = await freePort();
    const server = spawn("/usr/sbin/nats-server", ["-a", "127.0.0.1", "-p", String(port)], {
      stdio: "ignore",
    });
    try {
      await waitFor(() => canConnect(port), "the plain NATS server");
      await expect(
        connectBus({ name: "bus-no-jetstream", url: `nats://127.0.0.1:${port}`, logger: silentLogger() }),
      ).rejects.toThrow(/jetstream/i);
    } finally {
      server.kill("SIGTERM");
    }
  });

  it("rejects when nothing listens at the URL", async () => {
    const port = await freePort();
    await expect(
      connectBus({ name: "bus-refused", url: `nats://127.0.0.1:${port}`, timeoutMs: 1_000 }),
    ).rejects.toThrow();
  });
});
