import { randomBytes } from "node:crypto";
import type { JetStreamManager } from "@nats-io/jetstream";
import { runId } from "@ostmesh/db/testing/scratch.ts";
import { type EventStreamDefinition, eventStream } from "../streams.ts";

/**
 * A stream definition private to one test: name and subject prefix carry the run id and a random suffix, so
 * parallel files and parallel runs never share a stream or a subject.
 */
export function testStream(
  label: string,
  overrides: Partial<EventStreamDefinition> = {},
): EventStreamDefinition {
  const suffix = randomBytes(3).toString("hex");
  const tag = label.replace(/[^A-Za-z0-9]/g, "").slice(0, 12);
  return eventStream({
    name: `T_${runId()}_${tag}_${suffix}`,
    subjectPrefix: `t_${runId()}.${tag}_${suffix}.events`,
    storage: "memory",
    maxAgeMs: 3_600_000,
    // Memory streams reserve max_bytes up front; keep test streams small.
    maxBytes: 8 * 1024 * 1024,
    ...overrides,
  });
}

/** A durable consumer name private to one test. */
export function testDurable(label: string): string {
  return `${label.replace(/[^A-Za-z0-9]/g, "")}_${runId()}_${randomBytes(3).toString("hex")}`;
}

/** Deletes streams a test created (ignores ones that are already gone). */
export async function deleteStreams(jsm: JetStreamManager, names: readonly string[]): Promise<void> {
  for (const name of names) await jsm.streams.delete(name).catch(() => false);
}
