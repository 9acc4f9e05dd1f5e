import { Code, ConnectError } from "@connectrpc/connect";
import { OutboxPayloadTooLargeError } from "@ostmesh/bus";
import { IdempotencyConflictError } from "@ostmesh/db";
import {
  DenialReason,
  DeniedSchema,
  ValidationErrorsSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import {
  NotFoundError,
  TicketActionError,
  TicketDeniedError,
  TicketValidationError,
  type ValidationIssue,
} from "./domain/index.ts";

/** One problem with one request field (osticket.common.v1.FieldViolation). */
export interface Violation {
  readonly field: string;
  readonly description: string;
  readonly legacyKey?: string;
}

/** A ConnectError carrying a ValidationErrors detail; the message names the first field. */
export function validationFailure(code: Code, violations: readonly Violation[]): ConnectError {
  const first = violations[0];
  const message = first
    ? first.field
      ? `${first.field}: ${first.description}`
      : first.description
    : "invalid request";
  return new ConnectError(message, code, undefined, [
    {
      desc: ValidationErrorsSchema,
      value: {
        violations: violations.map((v) => ({
          field: v.field,
          description: v.description,
          legacyKey: v.legacyKey ?? "",
        })),
      },
    },
  ]);
}

/** INVALID_ARGUMENT naming one request field. */
export function invalidArgument(field: string, description: string, legacyKey = ""): ConnectError {
  return validationFailure(Code.InvalidArgument, [{ field, description, legacyKey }]);
}

export function notFound(what = "ticket not found"): ConnectError {
  return new ConnectError(what, Code.NotFound);
}

/**
 * Request fields that osTicket's error keys stand for. Numeric keys are form field ids and are resolved by
 * the caller (subject, message, answers.<name>).
 */
const LEGACY_KEY_FIELDS: Readonly<Record<string, string>> = {
  user: "requester",
  origin: "source",
  source: "source",
  topicId: "topic_id",
  emailId: "email_id",
  deptId: "dept_id",
  statusId: "status_id",
  slaId: "sla_id",
  staffId: "staff_id",
  teamId: "team_id",
  priority: "priority_id",
  priorityId: "priority_id",
  duedate: "due_date",
  err: "",
};

/** How the request field of a domain error key is found, per RPC. */
export interface FieldResolver {
  /** Field of an osTicket error key (`response` → `body`), or undefined to use the shared table. */
  key?(key: string): string | undefined;
  /** Field of a form field id, e.g. 20 → "subject". */
  formField?(fieldId: number): Promise<string | undefined>;
}

async function violationOf(issue: ValidationIssue, resolver: FieldResolver): Promise<Violation> {
  let field = resolver.key?.(issue.key) ?? LEGACY_KEY_FIELDS[issue.key];
  if (field === undefined && /^\d+$/.test(issue.key))
    field = (await resolver.formField?.(Number(issue.key))) ?? "";
  return { field: field ?? "", description: issue.message, legacyKey: issue.key };
}

const MAX_OPEN_TICKETS = "You've reached the maximum open tickets allowed.";

/**
 * The Connect error for a failure of a domain use case, or undefined when it is not one of the domain's
 * typed errors (the error mapping interceptor then turns it into INTERNAL without leaking its text).
 *
 * - TicketDeniedError: PERMISSION_DENIED with a Denied detail (the domain raises it for the ban list, for a
 *   ticket filter's reject action (FILTER_REJECTED with the filter's id) and for unregistered senders
 *   refused by `accept_unregistered_email`, which the legacy API answers alike).
 * - TicketValidationError: INVALID_ARGUMENT with the issues in osTicket's order, keys and texts; the
 *   open-ticket limit is a rule, not bad input: FAILED_PRECONDITION.
 * - NotFoundError: NOT_FOUND for the ticket itself; for anything the request names (a status, an agent, a
 *   team) INVALID_ARGUMENT on that field.
 * - TicketActionError (a transition osTicket forbids): FAILED_PRECONDITION.
 */
export async function domainFailure(
  error: unknown,
  resolver: FieldResolver = {},
): Promise<ConnectError | undefined> {
  if (error instanceof ConnectError) return error;
  if (error instanceof IdempotencyConflictError)
    return validationFailure(Code.FailedPrecondition, [
      {
        field: "idempotency_key",
        description: "this idempotency_key was already used with a different request",
      },
    ]);
  if (error instanceof TicketDeniedError) {
    const message = `Ticket denied: ${error.email}`;
    return new ConnectError(message, Code.PermissionDenied, undefined, [
      {
        desc: DeniedSchema,
        value: deniedDetail(error, message),
      },
    ]);
  }
  if (error instanceof TicketValidationError) {
    const violations = await Promise.all(error.issues.map((i) => violationOf(i, resolver)));
    const limit = error.issues.length === 1 && error.issues[0]?.message === MAX_OPEN_TICKETS;
    return validationFailure(limit ? Code.FailedPrecondition : Code.InvalidArgument, violations);
  }
  if (error instanceof NotFoundError) {
    if (error.entity === "ticket" || error.entity === "thread of ticket") return notFound();
    const field = resolver.key?.(error.entity) ?? `${error.entity}_id`;
    return invalidArgument(field, `unknown ${error.entity} ${error.id}`);
  }
  if (error instanceof OutboxPayloadTooLargeError)
    return new ConnectError(
      `the change is too large to publish: its event would be ${error.bytes} bytes, the event bus carries at` +
        ` most ${error.limit} (thread entries go without their bodies; this much is the ticket's answers)`,
      Code.ResourceExhausted,
    );
  if (error instanceof TicketActionError) {
    const field = resolver.key?.(error.key) ?? LEGACY_KEY_FIELDS[error.key] ?? "";
    return validationFailure(Code.FailedPrecondition, [
      { field, description: error.message, legacyKey: error.key },
    ]);
  }
  return undefined;
}

/** The Denied detail of a denial: a rejecting filter names itself, anything else is the ban list. */
export function deniedDetail(error: TicketDeniedError, message: string) {
  return error.filter
    ? { reason: DenialReason.FILTER_REJECTED, email: error.email, message, filterId: error.filter.id }
    : { reason: DenialReason.BANNED_EMAIL, email: error.email, message };
}
