// The entry point of @ostmesh/proto: the service descriptors, a registry of every contract file, the
// per-RPC access rules, and the event-type / subject table. Messages are imported from their generated
// files, e.g. `@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js`.
import type {
  DescFile,
  DescMessage,
  DescMethod,
  DescService,
  FileRegistry,
  Registry,
} from "@bufbuild/protobuf";
import { create, createFileRegistry, createRegistry, getOption, hasOption } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { file_grpc_health_v1_health, Health } from "./gen/grpc/health/v1/health_pb.js";
import {
  AttachmentService,
  file_osticket_attachment_v1_attachment_service,
} from "./gen/osticket/attachment/v1/attachment_service_pb.js";
import type { AccessRule } from "./gen/osticket/common/v1/access_pb.js";
import { access, file_osticket_common_v1_access } from "./gen/osticket/common/v1/access_pb.js";
import { file_osticket_common_v1_errors } from "./gen/osticket/common/v1/errors_pb.js";
import type { Event } from "./gen/osticket/events/v1/event_pb.js";
import { EventSchema, event_type, file_osticket_events_v1_event } from "./gen/osticket/events/v1/event_pb.js";
import {
  file_osticket_identity_v1_identity_service,
  IdentityService,
} from "./gen/osticket/identity/v1/identity_service_pb.js";
import {
  file_osticket_notification_v1_notification_service,
  NotificationService,
} from "./gen/osticket/notification/v1/notification_service_pb.js";
import {
  file_osticket_ticket_v1_ticket_service,
  TicketService,
} from "./gen/osticket/ticket/v1/ticket_service_pb.js";

export type { AccessRule } from "./gen/osticket/common/v1/access_pb.js";
export { access } from "./gen/osticket/common/v1/access_pb.js";
export { event_type } from "./gen/osticket/events/v1/event_pb.js";
export { AttachmentService, Health, IdentityService, NotificationService, TicketService };

/** ostmesh's own services (the gRPC health service is separate: `Health`). */
export const services: readonly DescService[] = [
  TicketService,
  IdentityService,
  AttachmentService,
  NotificationService,
];

/** Every contract file with all its dependencies (well-known types included), dependencies first. */
export const files: readonly DescFile[] = withDependencies([
  file_osticket_common_v1_access,
  file_osticket_common_v1_errors,
  file_osticket_ticket_v1_ticket_service,
  file_osticket_identity_v1_identity_service,
  file_osticket_attachment_v1_attachment_service,
  file_osticket_notification_v1_notification_service,
  file_osticket_events_v1_event,
  file_grpc_health_v1_health,
]);

/**
 * Every message, enum, extension and service of the contracts, as the generated descriptors (so
 * `toJson(Schema, msg, { registry })` resolves Any and extensions, and lookups return the very objects
 * the generated code uses).
 */
export const registry: Registry = createRegistry(...files);

/**
 * The same contracts as a file registry (files, their packages and imports), for tools that walk
 * whole files such as the OpenAPI generator. Its descriptors are rebuilt from the embedded file
 * descriptors, so they are equal to, not identical with, the generated ones.
 */
export const fileRegistry: FileRegistry = createFileRegistry(
  create(FileDescriptorSetSchema, { file: files.map((f) => f.proto) }),
);

const accessRules = new WeakMap<DescMethod, AccessRule | null>();

/**
 * The access rule declared on an RPC, or undefined when it declares none (then nobody may call it). Read
 * from the method's options once (every call of every RPC asks, at the edge and in the service) and shared:
 * treat it as read-only.
 */
export function accessRuleOf(method: DescMethod): AccessRule | undefined {
  let rule = accessRules.get(method);
  if (rule === undefined) {
    rule = hasOption(method, access) ? getOption(method, access) : null;
    accessRules.set(method, rule);
  }
  return rule ?? undefined;
}

/** The Connect/gRPC procedure path of a method, e.g. "/osticket.ticket.v1.TicketService/GetTicket". */
export function procedureOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

const methodsByProcedure = new Map<string, DescMethod>(
  services.flatMap((s) => s.methods.map((m) => [procedureOf(m), m] as const)),
);

/** Finds one of ostmesh's methods by procedure path ("/pkg.Service/Method"); undefined if unknown. */
export function findMethod(procedure: string): DescMethod | undefined {
  return methodsByProcedure.get(procedure);
}

// ---- paging and idempotency conventions (documented in osticket/common/v1/types.proto) ----

/** page_size used when a list request sends 0. */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest page_size served; larger requests are clamped to it. */
export const MAX_PAGE_SIZE = 200;
/** Longest accepted idempotency_key. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;
/** How long a result is replayed for a repeated idempotency_key. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * The page size to use for a requested page_size: 0 → DEFAULT_PAGE_SIZE, above MAX_PAGE_SIZE →
 * MAX_PAGE_SIZE. Returns undefined for a negative value (the caller answers INVALID_ARGUMENT).
 */
export function effectivePageSize(requested: number): number | undefined {
  if (!Number.isInteger(requested) || requested < 0) return undefined;
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(requested, MAX_PAGE_SIZE);
}

// ---- scopes (vocabulary documented in osticket/common/v1/access.proto) ----

/** Every scope an access rule, an API key or a service token may name. */
export const SCOPES = [
  "tickets:read",
  "tickets:create",
  "tickets:write",
  "cron:run",
  "syslog:write",
  "users:read",
  "users:write",
  "organizations:read",
  "organizations:write",
  "agents:read",
  "apikeys:manage",
  "files:read",
  "files:write",
  "webhooks:manage",
  "events:read",
  "auth:check",
] as const;

/** One scope string. */
export type Scope = (typeof SCOPES)[number];

const scopeSet: ReadonlySet<string> = new Set(SCOPES);

/** Whether a string is a known scope. */
export function isScope(value: string): value is Scope {
  return scopeSet.has(value);
}

// ---- events: types and NATS subjects ----

/** JetStream stream that carries every event. */
export const EVENT_STREAM = "OSTICKET_EVENTS";
/** Prefix of every event subject: `osticket.events.<aggregate>.<event>`. */
export const EVENT_SUBJECT_PREFIX = "osticket.events";
/** Subject filter matching every event. */
export const EVENT_SUBJECT_ALL = "osticket.events.>";

/**
 * Every event type, `<aggregate>.<event>`. The same strings are declared on the payload messages with
 * the `(osticket.events.v1.event_type)` option; a test keeps the two identical.
 */
export const EventTypes = {
  TICKET_CREATED: "ticket.created",
  TICKET_ENTRY_ADDED: "ticket.entry_added",
  TICKET_STATUS_CHANGED: "ticket.status_changed",
  TICKET_ASSIGNED: "ticket.assigned",
  TICKET_TRANSFERRED: "ticket.transferred",
  TICKET_UPDATED: "ticket.updated",
  TICKET_OVERDUE: "ticket.overdue",
  TICKET_DELETED: "ticket.deleted",
  USER_CREATED: "user.created",
  USER_UPDATED: "user.updated",
  ORGANIZATION_CREATED: "organization.created",
  ORGANIZATION_UPDATED: "organization.updated",
} as const;

/** One event type string. */
export type EventType = (typeof EventTypes)[keyof typeof EventTypes];

/** The NATS subject an event type is published on, e.g. "osticket.events.ticket.created". */
export function eventSubject(type: EventType): string {
  return `${EVENT_SUBJECT_PREFIX}.${type}`;
}

/** The event type a payload message declares with `(osticket.events.v1.event_type)`, if any. */
export function eventTypeOfPayload(message: DescMessage): string | undefined {
  return hasOption(message, event_type) ? getOption(message, event_type) : undefined;
}

/** The Event.payload oneof case names mapped to their event type, read from the descriptors. */
export const eventTypeByPayloadCase: ReadonlyMap<string, string> = new Map(
  (EventSchema.oneofs.find((o) => o.name === "payload")?.fields ?? []).flatMap((field) => {
    const type = field.message ? eventTypeOfPayload(field.message) : undefined;
    return type ? [[field.localName, type] as const] : [];
  }),
);

/** The event type of an Event, derived from its payload (not from its `type` field); undefined if empty. */
export function eventTypeOf(event: Event): string | undefined {
  return event.payload.case ? eventTypeByPayloadCase.get(event.payload.case) : undefined;
}

/** Event.id's field number. */
const EVENT_ID_FIELD = EventSchema.fields.find((f) => f.localName === "id")?.number ?? 1;

/**
 * An outbox row's payload as it is published: an Event written before its outbox id existed gets that id
 * (Event.id = the outbox id for OSTMESH-origin events); any other payload, or an Event that has an id, is
 * returned unchanged. Rows whose `eventType` is not the Event's are never read.
 *
 * The Event is not decoded (it may carry a whole ticket): its top-level fields are scanned for an id, and
 * one that has none gets the id appended as one more field. That is the Event with its id set to every
 * reader, since an unset proto3 string is absent from the bytes and a field that occurs again wins.
 */
export function stampEventId(row: { id: string; eventType: string; payload: Uint8Array }): Uint8Array {
  if (row.eventType !== EventSchema.typeName) return row.payload;
  try {
    const reader = new BinaryReader(row.payload);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === EVENT_ID_FIELD && wireType === WireType.LengthDelimited) {
        if (reader.string() !== "") return row.payload;
      } else {
        reader.skip(wireType, field);
      }
    }
  } catch {
    return row.payload; // not readable here: published as stored, consumers skip what they cannot read
  }
  const id = new BinaryWriter().tag(EVENT_ID_FIELD, WireType.LengthDelimited).string(row.id).finish();
  const stamped = new Uint8Array(row.payload.length + id.length);
  stamped.set(row.payload);
  stamped.set(id, row.payload.length);
  return stamped;
}

function withDependencies(roots: readonly DescFile[]): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    for (const dep of file.dependencies) visit(dep);
    seen.set(file.name, file);
  };
  for (const root of roots) visit(root);
  return [...seen.values()];
}
