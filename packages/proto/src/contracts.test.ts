// Checks the conventions of every v1 contract that can be read from the descriptors, the documentation
// of every element (from buf's source info), and the helpers of the package index.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import {
  create,
  createFileRegistry,
  equals,
  fromBinary,
  fromJson,
  fromJsonString,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { DescriptorProto, EnumDescriptorProto, FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import {
  FieldMaskSchema,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  MethodOptions_IdempotencyLevel,
  timestampFromDate,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { PrincipalKind } from "./gen/osticket/common/v1/principal_pb.js";
import { EventOrigin, MessageFormat, TicketSource, TicketState } from "./gen/osticket/common/v1/types_pb.js";
import { AggregateType, EventSchema } from "./gen/osticket/events/v1/event_pb.js";
import { ThreadEntryType } from "./gen/osticket/ticket/v1/ticket_pb.js";
import {
  accessRuleOf,
  DEFAULT_PAGE_SIZE,
  EventTypes,
  effectivePageSize,
  eventSubject,
  eventTypeByPayloadCase,
  eventTypeOf,
  fileRegistry,
  files,
  findMethod,
  Health,
  isScope,
  MAX_PAGE_SIZE,
  procedureOf,
  registry,
  services,
} from "./index.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

const READ_PREFIXES = ["Get", "List", "Search", "Watch", "Download", "Check", "WhoAmI", "Authorize"];

// RPCs every caller may use whatever it holds: the credential exchanges and WhoAmI.
const SCOPE_FREE: ReadonlySet<string> = new Set([
  "Login",
  "Refresh",
  "Logout",
  "GetJwks",
  "IssueServiceToken",
  "WhoAmI",
]);

function fieldOf(message: DescMessage, name: string) {
  return message.fields.find((f) => f.name === name);
}

/** Every convention a method breaks, as readable strings (empty = none). */
function violationsOf(method: DescMethod): string[] {
  const out: string[] = [];
  const where = procedureOf(method);
  const input = method.input;
  const output = method.output;
  const reads = method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;

  if (input.name !== `${method.name}Request`)
    out.push(`${where}: request is not named ${method.name}Request`);
  if (output.name !== `${method.name}Response`)
    out.push(`${where}: response is not named ${method.name}Response`);

  if (READ_PREFIXES.some((p) => method.name.startsWith(p)) && !reads) {
    out.push(`${where}: read RPC without idempotency_level NO_SIDE_EFFECTS`);
  }
  const key = fieldOf(input, "idempotency_key");
  if (reads && key) out.push(`${where}: NO_SIDE_EFFECTS RPC has an idempotency_key`);
  if (!reads && (key?.fieldKind !== "scalar" || key.scalar !== 9) /* string */) {
    out.push(`${where}: mutating RPC without string idempotency_key`);
  }

  const pageSize = fieldOf(input, "page_size");
  const pageToken = fieldOf(input, "page_token");
  const nextToken = fieldOf(output, "next_page_token");
  const paged = method.name.startsWith("List") || method.name.startsWith("Search");
  if (paged || pageSize || pageToken) {
    if (pageSize?.fieldKind !== "scalar" || pageSize.scalar !== 5 /* int32 */) {
      out.push(`${where}: list request without int32 page_size`);
    }
    if (pageToken?.fieldKind !== "scalar" || pageToken.scalar !== 9) {
      out.push(`${where}: list request without string page_token`);
    }
    if (nextToken?.fieldKind !== "scalar" || nextToken.scalar !== 9) {
      out.push(`${where}: list response without string next_page_token`);
    }
  }

  if (method.name.startsWith("Update")) {
    const mask = input.fields.find(
      (f) => f.fieldKind === "message" && f.message.typeName === FieldMaskSchema.typeName,
    );
    if (!mask) out.push(`${where}: Update RPC without a google.protobuf.FieldMask`);
  }

  const rule = accessRuleOf(method);
  if (!rule) {
    out.push(`${where}: no (osticket.common.v1.access) option`);
    return out;
  }
  if (rule.allowed.length === 0) out.push(`${where}: access rule allows nobody`);
  if (rule.allowed.includes(PrincipalKind.UNSPECIFIED)) out.push(`${where}: access rule allows UNSPECIFIED`);
  if (rule.scope !== "" && !isScope(rule.scope)) out.push(`${where}: unknown scope ${rule.scope}`);
  const keyOrService =
    rule.allowed.includes(PrincipalKind.API_KEY) || rule.allowed.includes(PrincipalKind.SERVICE);
  if (keyOrService && rule.scope === "" && !SCOPE_FREE.has(method.name)) {
    out.push(`${where}: API keys or services allowed without a scope`);
  }
  const agents = rule.allowed.includes(PrincipalKind.AGENT);
  if (!agents && (rule.agentPermission || rule.agentDepartmentCheck || rule.agentAdminRequired)) {
    out.push(`${where}: agent conditions on an RPC agents may not call`);
  }
  if (rule.endUserOwnerCheck && !rule.allowed.includes(PrincipalKind.END_USER)) {
    out.push(`${where}: end-user condition on an RPC end users may not call`);
  }
  return out;
}

function serviceViolations(list: readonly DescService[]): string[] {
  return list.flatMap((s) => s.methods.flatMap(violationsOf));
}

/** A deliberately non-conforming service, to show the checks above can fail. */
function badService(): DescService {
  const proto = create(FileDescriptorProtoSchema, {
    name: "bad/v1/bad.proto",
    package: "bad.v1",
    syntax: "proto3",
    messageType: [
      { name: "ListThingsRequest", field: [{ name: "page_size", number: 1, type: 9, label: 1 }] },
      { name: "ListThingsResponse" },
      { name: "UpdateThingRequest", field: [{ name: "name", number: 1, type: 9, label: 1 }] },
      { name: "UpdateThingResult" },
    ],
    service: [
      {
        name: "BadService",
        method: [
          {
            name: "ListThings",
            inputType: ".bad.v1.ListThingsRequest",
            outputType: ".bad.v1.ListThingsResponse",
          },
          {
            name: "UpdateThing",
            inputType: ".bad.v1.UpdateThingRequest",
            outputType: ".bad.v1.UpdateThingResult",
            options: { idempotencyLevel: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS },
          },
        ],
      },
    ],
  });
  const service = createFileRegistry(proto, () => undefined).getService("bad.v1.BadService");
  if (!service) throw new Error("bad service did not build");
  return service;
}

describe("RPC conventions", () => {
  it("covers all four ostmesh services", () => {
    expect(services.map((s) => s.typeName)).toEqual([
      "osticket.ticket.v1.TicketService",
      "osticket.identity.v1.IdentityService",
      "osticket.attachment.v1.AttachmentService",
      "osticket.notification.v1.NotificationService",
    ]);
    expect(services.flatMap((s) => s.methods).length).toBeGreaterThan(60);
  });

  it("holds for every method of every service", () => {
    expect(serviceViolations(services)).toEqual([]);
  });

  it("reports every kind of violation on a non-conforming service", () => {
    const found = serviceViolations([badService()]);
    expect(found).toEqual([
      "/bad.v1.BadService/ListThings: read RPC without idempotency_level NO_SIDE_EFFECTS",
      "/bad.v1.BadService/ListThings: mutating RPC without string idempotency_key",
      "/bad.v1.BadService/ListThings: list request without int32 page_size",
      "/bad.v1.BadService/ListThings: list request without string page_token",
      "/bad.v1.BadService/ListThings: list response without string next_page_token",
      "/bad.v1.BadService/ListThings: no (osticket.common.v1.access) option",
      "/bad.v1.BadService/UpdateThing: response is not named UpdateThingResponse",
      "/bad.v1.BadService/UpdateThing: Update RPC without a google.protobuf.FieldMask",
      "/bad.v1.BadService/UpdateThing: no (osticket.common.v1.access) option",
    ]);
  });

  it("marks streaming RPCs as documented", () => {
    const kinds = Object.fromEntries(services.flatMap((s) => s.methods.map((m) => [m.name, m.methodKind])));
    expect(kinds.UploadFileStream).toBe("client_streaming");
    expect(kinds.DownloadFile).toBe("server_streaming");
    expect(kinds.WatchEvents).toBe("server_streaming");
    expect(kinds.CreateTicket).toBe("unary");
  });

  it("declares the access rules the services rely on", () => {
    const rule = (p: string) => {
      const m = findMethod(p);
      if (!m) throw new Error(`no method ${p}`);
      return accessRuleOf(m);
    };
    expect(rule("/osticket.ticket.v1.TicketService/CreateTicket")).toMatchObject({
      scope: "tickets:create",
      agentPermission: "ticket.create",
    });
    expect(rule("/osticket.ticket.v1.TicketService/PostReply")).toMatchObject({
      scope: "tickets:write",
      agentDepartmentCheck: true,
      agentPermission: "ticket.reply",
    });
    expect(rule("/osticket.ticket.v1.TicketService/RunScheduledTasks")?.scope).toBe("cron:run");
    expect(rule("/osticket.identity.v1.IdentityService/Login")?.allowed).toContain(PrincipalKind.ANONYMOUS);
    expect(rule("/osticket.identity.v1.IdentityService/CheckApiKey")).toMatchObject({
      allowed: [PrincipalKind.SERVICE],
      scope: "auth:check",
    });
    // Only public RPCs are open to anonymous callers.
    const anonymous = services
      .flatMap((s) => s.methods)
      .filter((m) => accessRuleOf(m)?.allowed.includes(PrincipalKind.ANONYMOUS))
      .map((m) => m.name)
      .sort();
    expect(anonymous).toEqual([
      "GetHelpTopicForm",
      "GetJwks",
      "IssueServiceToken",
      "ListHelpTopics",
      "Login",
      "Logout",
      "Refresh",
    ]);
  });
});

describe("documentation", () => {
  // buf includes source info (comments) in built images unless --exclude-source-info is given; the
  // image is a FileDescriptorSet plus buf's own per-file extension field.
  const image = fromJsonString(
    FileDescriptorSetSchema,
    execFileSync(`${repoRoot}node_modules/.bin/buf`, ["build", "-o", "-#format=json"], {
      cwd: repoRoot,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    }),
    { ignoreUnknownFields: true }, // buf images add a bufExtension field per file
  );
  const ours = image.file.filter((f) => f.name.startsWith("osticket/"));

  function undocumented(file: FileDescriptorProto): string[] {
    const comments = new Map<string, string>();
    for (const loc of file.sourceCodeInfo?.location ?? []) {
      comments.set(loc.path.join("."), loc.leadingComments ?? "");
    }
    const missing: string[] = [];
    const need = (path: number[], what: string) => {
      if ((comments.get(path.join(".")) ?? "").trim() === "") missing.push(`${file.name}: ${what}`);
    };
    const walkEnum = (e: EnumDescriptorProto, path: number[], name: string) => {
      need(path, `enum ${name}`);
      for (const [j, v] of e.value.entries()) need([...path, 2, j], `enum value ${v.name}`);
    };
    const walkMessage = (m: DescriptorProto, path: number[], name: string) => {
      need(path, `message ${name}`);
      for (const [i, f] of m.field.entries()) need([...path, 2, i], `field ${name}.${f.name}`);
      for (const [i, o] of m.oneofDecl.entries()) {
        // proto3 `optional` fields live in synthetic oneofs that have no source of their own.
        const synthetic = m.field.some((f) => f.oneofIndex === i && f.proto3Optional);
        if (!synthetic) need([...path, 8, i], `oneof ${name}.${o.name}`);
      }
      for (const [i, x] of m.extension.entries()) need([...path, 6, i], `extension ${name}.${x.name}`);
      for (const [i, n] of m.nestedType.entries()) {
        if (!n.options?.mapEntry) walkMessage(n, [...path, 3, i], `${name}.${n.name}`);
      }
      for (const [i, e] of m.enumType.entries()) walkEnum(e, [...path, 4, i], `${name}.${e.name}`);
    };
    for (const [i, m] of file.messageType.entries()) walkMessage(m, [4, i], m.name);
    for (const [i, e] of file.enumType.entries()) walkEnum(e, [5, i], e.name);
    for (const [i, s] of file.service.entries()) {
      need([6, i], `service ${s.name}`);
      for (const [j, m] of s.method.entries()) need([6, i, 2, j], `rpc ${s.name}.${m.name}`);
    }
    for (const [i, x] of file.extension.entries()) need([7, i], `extension ${x.name}`);
    return missing;
  }

  it("builds every contract file with source info", () => {
    expect(ours.map((f) => f.name).sort()).toEqual(
      files
        .map((f) => f.proto.name)
        .filter((n) => n.startsWith("osticket/"))
        .sort(),
    );
    expect(ours.every((f) => (f.sourceCodeInfo?.location.length ?? 0) > 0)).toBe(true);
  });

  it("has a leading comment on every message, field, oneof, enum, value, service, RPC and extension", () => {
    expect(ours.flatMap(undocumented)).toEqual([]);
  });

  it("notices a missing comment", () => {
    const bare = create(FileDescriptorProtoSchema, {
      name: "osticket/bare.proto",
      messageType: [{ name: "Bare", field: [{ name: "x", number: 1, type: 9, label: 1 }] }],
      sourceCodeInfo: { location: [{ path: [4, 0], leadingComments: " A documented message.\n" }] },
    });
    expect(undocumented(bare)).toEqual(["osticket/bare.proto: field Bare.x"]);
  });
});

describe("registry and index helpers", () => {
  it("resolves every service, method and payload type", () => {
    for (const service of [...services, Health]) {
      expect(registry.getService(service.typeName)).toBe(service);
      expect(fileRegistry.getService(service.typeName)?.methods.map((m) => m.name)).toEqual(
        service.methods.map((m) => m.name),
      );
    }
    for (const method of services.flatMap((s) => s.methods)) {
      expect(findMethod(procedureOf(method))).toBe(method);
    }
    expect(registry.getMessage("google.protobuf.Timestamp")?.typeName).toBe("google.protobuf.Timestamp");
    expect(registry.getExtension("osticket.common.v1.access")?.number).toBe(50001);
    expect(fileRegistry.getFile("osticket/events/v1/event.proto")?.messages.length).toBeGreaterThan(10);
  });

  it("answers unknown procedures and option-less methods with undefined", () => {
    expect(findMethod("/osticket.ticket.v1.TicketService/Nope")).toBeUndefined();
    expect(findMethod("osticket.ticket.v1.TicketService/GetTicket")).toBeUndefined();
    const check = Health.methods.find((m) => m.name === "Check");
    expect(check && accessRuleOf(check)).toBeUndefined();
  });

  it("applies the paging rules", () => {
    expect(effectivePageSize(0)).toBe(DEFAULT_PAGE_SIZE);
    expect(effectivePageSize(7)).toBe(7);
    expect(effectivePageSize(MAX_PAGE_SIZE)).toBe(MAX_PAGE_SIZE);
    expect(effectivePageSize(10_000)).toBe(MAX_PAGE_SIZE);
    expect(effectivePageSize(-1)).toBeUndefined();
    expect(effectivePageSize(2.5)).toBeUndefined();
  });

  it("knows the scope vocabulary", () => {
    expect(isScope("tickets:write")).toBe(true);
    expect(isScope("tickets:*")).toBe(false);
    expect(isScope("")).toBe(false);
  });
});

describe("events", () => {
  it("declares one event type per payload, identical to the EventTypes table", () => {
    const payload = EventSchema.oneofs.find((o) => o.name === "payload");
    expect(payload?.fields.length).toBe(eventTypeByPayloadCase.size);
    expect([...eventTypeByPayloadCase.values()].sort()).toEqual(Object.values(EventTypes).sort());
    const aggregates = AggregateType;
    for (const type of eventTypeByPayloadCase.values()) {
      expect(type).toMatch(/^[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*$/);
      const aggregate = type.split(".")[0]?.toUpperCase() ?? "";
      expect(Object.keys(aggregates)).toContain(aggregate);
    }
  });

  it("maps event types to subjects", () => {
    expect(eventSubject(EventTypes.TICKET_CREATED)).toBe("osticket.events.ticket.created");
    expect(eventSubject(EventTypes.TICKET_ENTRY_ADDED)).toBe("osticket.events.ticket.entry_added");
  });

  const occurredAt = timestampFromDate(new Date("2026-11-26T07:15:00Z"));
  const event = create(EventSchema, {
    id: "01JDQ3Z7W5F2M4X9K0A1B2C3D4",
    type: EventTypes.TICKET_CREATED,
    occurredAt,
    origin: EventOrigin.OSTMESH,
    actor: { kind: PrincipalKind.API_KEY, id: 1, displayName: "Website form", username: "" },
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    aggregate: { type: AggregateType.TICKET, id: 42 },
    ticket: { ticketId: 42, number: "832810", deptId: 1, userId: 7, statusId: 1, state: TicketState.OPEN },
    payload: {
      case: "ticketCreated",
      value: {
        ticket: {
          id: 42,
          number: "832810",
          subject: "Printer on fire",
          status: { id: 1, name: "Open", state: TicketState.OPEN },
          department: { id: 1, name: "Support" },
          requester: { id: 7, name: "John Doe", email: "John@Example.com" },
          source: TicketSource.API,
          ipAddress: "203.0.113.9",
          createdAt: occurredAt,
          answers: [{ fieldId: 33, formId: 2, name: "serial", label: "Serial", type: "text", value: "X1" }],
          threadId: 40,
        },
        message: {
          id: 99,
          threadId: 40,
          type: ThreadEntryType.MESSAGE,
          poster: "John Doe",
          userId: 7,
          title: "Printer on fire",
          body: "<p>Help</p>",
          format: MessageFormat.HTML,
          source: TicketSource.API,
          flags: 0x41,
          attachments: [{ attachmentId: 5, fileId: -3, name: "photo.jpg", type: "image/jpeg", size: 1024n }],
        },
        alert: true,
        autorespond: false,
        newUser: true,
      },
    },
  });

  it("round-trips through the binary format", () => {
    const back = fromBinary(EventSchema, toBinary(EventSchema, event));
    expect(equals(EventSchema, back, event)).toBe(true);
    expect(eventTypeOf(back)).toBe("ticket.created");
  });

  it("round-trips through protobuf JSON, the webhook body", () => {
    const json = toJson(EventSchema, event, { registry });
    expect(json).toMatchObject({
      id: "01JDQ3Z7W5F2M4X9K0A1B2C3D4",
      type: "ticket.created",
      occurredAt: "2026-11-26T07:15:00Z",
      origin: "EVENT_ORIGIN_OSTMESH",
      actor: { kind: "PRINCIPAL_KIND_API_KEY", id: 1 },
      ticketCreated: {
        ticket: { number: "832810", source: "TICKET_SOURCE_API", status: { state: "TICKET_STATE_OPEN" } },
        message: { format: "MESSAGE_FORMAT_HTML", attachments: [{ fileId: -3, size: "1024" }] },
      },
    });
    expect(equals(EventSchema, fromJson(EventSchema, json, { registry }), event)).toBe(true);
  });

  it("rejects malformed JSON and keeps unknown payloads readable as binary", () => {
    expect(() => fromJson(EventSchema, { id: "x", origin: "NOT_AN_ORIGIN" })).toThrow();
    expect(() => fromJson(EventSchema, { id: "x", bogus: 1 })).toThrow();
    expect(fromJson(EventSchema, { id: "x", bogus: 1 }, { ignoreUnknownFields: true }).id).toBe("x");

    // A producer with a newer contract sends a payload this build does not know (field 99).
    const newer = new BinaryWriter();
    newer.tag(1, WireType.LengthDelimited).string("evt-2");
    newer.tag(2, WireType.LengthDelimited).string("ticket.merged");
    newer.tag(99, WireType.LengthDelimited).bytes(new Uint8Array([8, 1]));
    const decoded = fromBinary(EventSchema, newer.finish());
    expect(decoded.type).toBe("ticket.merged");
    expect(decoded.payload.case).toBeUndefined();
    expect(eventTypeOf(decoded)).toBeUndefined();
  });
});
