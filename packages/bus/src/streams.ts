import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";

/**
 * One JetStream stream that carries ostmesh events. Production uses the defaults (OSTICKET_EVENTS on
 * `osticket.events.>`); tests and side-by-side deployments give each their own name and subject prefix.
 */
export interface EventStreamDefinition {
  /** Stream name, e.g. `OSTICKET_EVENTS`. */
  readonly name: string;
  /** Subject prefix without the trailing `.>`, e.g. `osticket.events`. */
  readonly subjectPrefix: string;
  readonly storage: "file" | "memory";
  /** 1 on a single server; 3 on a JetStream cluster. */
  readonly replicas: number;
  /**
   * How long JetStream remembers a `Nats-Msg-Id`. A relay that crashes between PubAck and marking the row
   * republishes it after takeover; the window must cover that, and the relay's maximum retry backoff.
   */
  readonly duplicateWindowMs: number;
  /** Events older than this are dropped from the stream (consumers must have caught up by then). */
  readonly maxAgeMs: number;
  /**
   * Upper bound on the stream's size, -1 for none (the default: age bounds it). JetStream reserves this
   * much of the account's storage up front, so set it only where the disk is sized for it.
   */
  readonly maxBytes: number;
  /** Largest single event (headers + payload) the stream accepts. */
  readonly maxMsgSize: number;
  readonly description: string;
}

export const DEFAULT_EVENT_STREAM: EventStreamDefinition = {
  name: "OSTICKET_EVENTS",
  subjectPrefix: "osticket.events",
  storage: "file",
  replicas: 1,
  duplicateWindowMs: 2 * 60_000,
  maxAgeMs: 7 * 24 * 3_600_000,
  maxBytes: -1,
  maxMsgSize: 1024 * 1024,
  description: "osTicket change events (ostmesh outbox relay and thread-event tailing)",
};

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** A stream definition: the defaults, then the given overrides (validated). */
export function eventStream(overrides: Partial<EventStreamDefinition> = {}): EventStreamDefinition {
  const def = { ...DEFAULT_EVENT_STREAM, ...overrides };
  if (!TOKEN.test(def.name)) throw new Error(`invalid stream name ${JSON.stringify(def.name)}`);
  if (!def.subjectPrefix.split(".").every((t) => TOKEN.test(t)))
    throw new Error(`invalid subject prefix ${JSON.stringify(def.subjectPrefix)}`);
  if (def.duplicateWindowMs <= 0 || def.duplicateWindowMs > def.maxAgeMs)
    throw new Error("duplicateWindowMs must be positive and not longer than maxAgeMs");
  if (!Number.isInteger(def.replicas) || def.replicas < 1)
    throw new Error("replicas must be an integer >= 1");
  return def;
}

/**
 * The event stream as configured by the environment: NATS_EVENTS_STREAM, NATS_EVENTS_SUBJECT_PREFIX,
 * NATS_EVENTS_REPLICAS, NATS_EVENTS_MAX_AGE_HOURS, NATS_EVENTS_MAX_BYTES (anything unset keeps its default).
 */
export function eventStreamFromEnv(env: NodeJS.ProcessEnv = process.env): EventStreamDefinition {
  const overrides: { -readonly [K in keyof EventStreamDefinition]?: EventStreamDefinition[K] } = {};
  if (env.NATS_EVENTS_STREAM) overrides.name = env.NATS_EVENTS_STREAM;
  if (env.NATS_EVENTS_SUBJECT_PREFIX) overrides.subjectPrefix = env.NATS_EVENTS_SUBJECT_PREFIX;
  if (env.NATS_EVENTS_REPLICAS) overrides.replicas = Number(env.NATS_EVENTS_REPLICAS);
  if (env.NATS_EVENTS_MAX_AGE_HOURS) overrides.maxAgeMs = Number(env.NATS_EVENTS_MAX_AGE_HOURS) * 3_600_000;
  if (env.NATS_EVENTS_MAX_BYTES) overrides.maxBytes = Number(env.NATS_EVENTS_MAX_BYTES);
  return eventStream(overrides);
}

/** The stream's subject filter, `<prefix>.>`. */
export function streamWildcard(def: Pick<EventStreamDefinition, "subjectPrefix">): string {
  return `${def.subjectPrefix}.>`;
}

/**
 * A concrete event subject under the stream, e.g. `eventSubject(def, "ticket", "created")` ->
 * `osticket.events.ticket.created`. Tokens may not contain dots, wildcards or spaces.
 */
export function eventSubject(def: Pick<EventStreamDefinition, "subjectPrefix">, ...tokens: string[]): string {
  if (tokens.length === 0) throw new Error("an event subject needs at least one token");
  for (const token of tokens)
    if (!TOKEN.test(token)) throw new Error(`invalid subject token ${JSON.stringify(token)}`);
  return `${def.subjectPrefix}.${tokens.join(".")}`;
}

/** The JetStream configuration a definition stands for. */
export function streamConfig(def: EventStreamDefinition): Partial<StreamConfig> & { name: string } {
  return {
    name: def.name,
    description: def.description,
    subjects: [streamWildcard(def)],
    storage: def.storage === "file" ? StorageType.File : StorageType.Memory,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: def.replicas,
    duplicate_window: nanos(def.duplicateWindowMs),
    max_age: nanos(def.maxAgeMs),
    max_bytes: def.maxBytes,
    max_msg_size: def.maxMsgSize,
    max_msgs: -1,
    max_consumers: -1,
    // Events are facts: nobody deletes one from the middle of the stream.
    deny_delete: true,
    allow_rollup_hdrs: false,
  };
}

/** JetStream's error code for "stream name already in use with a different configuration". */
const STREAM_NAME_EXIST = 10058;

/**
 * Creates each stream, or brings an existing one to its definition. Idempotent and safe to run from every
 * replica at start-up: an identical `add` is a no-op on the server, a different one becomes an `update`.
 * Immutable changes (e.g. storage type) are rejected by the server and surface as errors.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  defs: EventStreamDefinition | readonly EventStreamDefinition[],
): Promise<StreamInfo[]> {
  const list = "name" in defs ? [defs] : defs;
  const infos: StreamInfo[] = [];
  for (const def of list) {
    const config = streamConfig(def);
    try {
      infos.push(await jsm.streams.add(config));
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.code !== STREAM_NAME_EXIST) throw error;
      const { name: _name, ...changes } = config;
      infos.push(await jsm.streams.update(def.name, changes));
    }
  }
  return infos;
}
