/**
 * Fixed-up legacy data → TicketService.CreateTicket. Raw values whose osTicket semantics depend on how they
 * were written (source, priority, priorityId, topicId, emailId) travel verbatim in LegacyOptions; the
 * undocumented keys osTicket still honours (deptId, statusId, slaId, staffId, teamId, ccs, cannedResponseId)
 * are mapped too.
 */
import { create } from "@bufbuild/protobuf";
import { MessageFormat } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import {
  type CreateTicketRequest,
  CreateTicketRequestSchema,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import type { LegacyAttachment, LegacyMessage } from "./fixup.ts";
import { isPhpArray, type PhpArray, type PhpValue, phpBool, phpString, phpUint } from "./php.ts";

/** Keys with a place of their own in CreateTicketRequest (everything else named by a form is an answer). */
const MAPPED_KEYS = new Set([
  "email",
  "name",
  "phone",
  "notes",
  "subject",
  "message",
  "priority",
  "priorityId",
  "topicId",
  "source",
  "ip",
  "alert",
  "autorespond",
  "attachments",
  "emailId",
  "deptId",
  "statusId",
  "slaId",
  "staffId",
  "teamId",
  "ccs",
  "cannedResponseId",
]);

function text(value: PhpValue | undefined): string {
  if (value === undefined) return "";
  if (isPhpArray(value)) return JSON.stringify(plain(value));
  return phpString(value) ?? "";
}

/**
 * A value PHP uses as a string: an array is "Array" (PHP's string cast), an empty one "" (osTicket's checks
 * see it empty before anything casts it).
 */
function castText(value: PhpValue | undefined): string {
  if (isPhpArray(value)) return value.size === 0 ? "" : "Array";
  return text(value);
}

function plain(value: PhpValue): unknown {
  if (isPhpArray(value)) return Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]));
  if (typeof value === "object" && value !== null) return value.value;
  return value;
}

export interface LegacyCreateInput {
  data: PhpArray;
  message: LegacyMessage | undefined;
  attachments: readonly LegacyAttachment[];
  /** Names of every form field a request may answer (contact, ticket and topic forms). */
  fieldNames: ReadonlySet<string>;
  /** The client IP (osTicket's REMOTE_ADDR). */
  clientIp: string;
}

export function createTicketRequest(input: LegacyCreateInput): CreateTicketRequest {
  const { data } = input;
  const has = (key: string) => data.has(key) && data.get(key) !== null;
  const request = create(CreateTicketRequestSchema, {
    requester: {
      email: text(data.get("email")),
      name: castText(data.get("name")),
      phone: text(data.get("phone")),
      notes: text(data.get("notes")),
    },
    subject: text(data.get("subject")),
    message: input.message?.body ?? "",
    messageFormat: input.message?.html ? MessageFormat.HTML : MessageFormat.TEXT,
    ipAddress: has("ip") ? castText(data.get("ip")) : input.clientIp,
    deptId: phpUint(data.get("deptId")),
    statusId: phpUint(data.get("statusId")),
    slaId: phpUint(data.get("slaId")),
    staffId: phpUint(data.get("staffId")),
    teamId: phpUint(data.get("teamId")),
    cannedResponseId: phpUint(data.get("cannedResponseId")),
    legacy: {
      // PHP's `??=`: only a missing or null source becomes "API".
      source: has("source") ? text(data.get("source")) : "API",
      priority: has("priority") ? text(data.get("priority")) : "",
      priorityId: has("priorityId") ? text(data.get("priorityId")) : "",
      topicId: has("topicId") ? text(data.get("topicId")) : "",
      emailId: has("emailId") ? text(data.get("emailId")) : "",
      remoteAddress: input.clientIp,
      sourceSent: has("source"),
      messageSent: input.message !== undefined,
      // Ticket::create checks `if ($vars['duedate'])`: PHP-falsy values are none.
      dueDate: phpBool(data.get("duedate") ?? null) ? text(data.get("duedate")) : "",
    },
    attachments: input.attachments.map((file) => ({
      source: {
        case: "file" as const,
        value: { name: file.name, type: file.type, data: file.data, legacySize: BigInt(file.size ?? 0) },
      },
    })),
  });
  // createTicket(): `(bool)(isset($data['alert']) ? $data['alert'] : true)`.
  request.alert = has("alert") ? phpBool(data.get("alert") ?? null) : true;
  request.autorespond = has("autorespond") ? phpBool(data.get("autorespond") ?? null) : true;
  const ccs = data.get("ccs");
  if (isPhpArray(ccs)) {
    for (const cc of ccs.values()) {
      const email = phpString(cc);
      if (email)
        request.collaborators.push({ $typeName: "osticket.ticket.v1.CollaboratorInput", email, name: "" });
    }
  }
  for (const [key, value] of data) {
    if (MAPPED_KEYS.has(key) || !input.fieldNames.has(key) || value === null) continue;
    request.answers[key] = text(value);
    // Choice and list fields read a number, a boolean or an array by its type (LegacyOptions.typed_answers).
    if (typeof value !== "string" && request.legacy)
      request.legacy.typedAnswers[key] = JSON.stringify(typedValue(value));
  }
  return request;
}

/** A PHP value as LegacyOptions.typed_answers carries it (floats tagged, arrays as ordered pairs). */
function typedValue(value: PhpValue): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (isPhpArray(value)) return { array: [...value].map(([k, v]) => [k, typedValue(v)]) };
  return value.kind === "int" ? value.value : { float: value.value };
}
