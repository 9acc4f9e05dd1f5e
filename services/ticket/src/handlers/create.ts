import { isIP } from "node:net";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, type HandlerContext } from "@connectrpc/connect";
import { query } from "@ostmesh/db";
import { type PhpInput, phpInputOf } from "@ostmesh/kit/osticket/forms/typed.ts";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { TicketSource } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { TicketNotice } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import {
  type CreateTicketRequest,
  CreateTicketRequestSchema,
  type CreateTicketResponse,
  CreateTicketResponseSchema,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import {
  assertMayLinkFiles,
  callerOf,
  domainActor,
  EndUserView,
  idOf,
  isAgent,
  isEndUser,
  kindOf,
  type Principal,
} from "../access.ts";
import {
  ASSIGN_DENIED,
  type CollaboratorAddress,
  type CreateTicketInput,
  createTicket,
  DEPT_CREATE_DENIED,
  type TicketNotice as TicketNoticeChoice,
  TicketValidationError,
  USER_CREATE_DENIED,
} from "../domain/index.ts";
import { validationFailure } from "../errors.ts";
import { prepareFiles, rewriteContentIds } from "../files.ts";
import { bodyFormat, sourceColumn } from "../mapping.ts";
import type { Runtime } from "../runtime.ts";
import { formFieldResolver, type Mutation, mutate } from "./mutation.ts";
import { publishDomainEvents } from "./publish.ts";
import { logRefusal } from "./refusals.ts";

const nonEmpty = (s: string): string | undefined => (s === "" ? undefined : s);
const nonZero = (n: number): number | undefined => (n === 0 ? undefined : n);

/** The validation origin of a typed request: who is asking, as osTicket's create paths tell them apart. */
function originOf(principal: Principal): string {
  switch (kindOf(principal)) {
    case PrincipalKind.AGENT:
      return "staff";
    case PrincipalKind.END_USER:
      return "web";
    default:
      return "api";
  }
}

/**
 * The caller's address as the gateway resolved it (it sets X-Forwarded-For to that one address), else "":
 * what osTicket records from REMOTE_ADDR on the ticket and its first message when no `ip` is given. Not a
 * check of anything: a typed caller may name any address in `ip_address` anyway.
 */
export function callerAddress(ctx: HandlerContext): string {
  const hops = (ctx.requestHeader.get("x-forwarded-for") ?? "").split(",");
  const last = hops[hops.length - 1]?.trim() ?? "";
  return isIP(last) ? last : "";
}

/** The CreateTicket request as the domain's input (LegacyOptions' raw values replace typed ones). */
export function createInput(
  req: CreateTicketRequest,
  principal: Principal,
): Omit<CreateTicketInput, "attachments"> {
  const legacy = req.legacy;
  const requester = req.requester;
  const endUser = kindOf(principal) === PrincipalKind.END_USER;
  const agent = kindOf(principal) === PrincipalKind.AGENT;
  const notice = agent ? noticeChoice(req.ticketNotice) : undefined;
  // An agent's source no Ticket::$sources key stands for goes on as sent, for Ticket::open to refuse.
  const typedSource =
    req.source === TicketSource.UNSPECIFIED
      ? kindOf(principal) === PrincipalKind.API_KEY || kindOf(principal) === PrincipalKind.SERVICE
        ? "API"
        : "Web"
      : sourceColumn(req.source) || (agent ? String(req.source) : "");
  return {
    requester: endUser
      ? { userId: idOf(principal) }
      : {
          userId: nonZero(requester?.userId ?? 0),
          // The legacy API distinguishes "sent empty" from "not sent" no further than osTicket does.
          email: legacy ? (requester?.email ?? "") : nonEmpty(requester?.email ?? ""),
          name: legacy ? (requester?.name ?? "") : nonEmpty(requester?.name ?? ""),
          phone: nonEmpty(requester?.phone ?? ""),
          notes: nonEmpty(requester?.notes ?? ""),
        },
    subject: req.subject,
    message: req.message,
    messageFormat: bodyFormat(req.messageFormat),
    // PHP's `??=`: a source sent empty stays empty (an invalid origin); only a missing one becomes API.
    source: legacy ? legacy.source || (legacy.sourceSent ? "" : "API") : typedSource,
    origin: legacy ? undefined : originOf(principal),
    ipAddress: req.ipAddress,
    remoteAddress: legacy?.remoteAddress || undefined,
    topicId: legacy?.topicId ? legacy.topicId : nonZero(req.topicId),
    deptId: nonZero(req.deptId),
    statusId: nonZero(req.statusId),
    priority: legacy ? nonEmpty(legacy.priority) : nonZero(req.priorityId),
    priorityId: legacy ? nonEmpty(legacy.priorityId) : undefined,
    slaId: nonZero(req.slaId),
    staffId: nonZero(req.staffId),
    teamId: nonZero(req.teamId),
    emailId: legacy?.emailId ? legacyEmailId(legacy.emailId, legacy.source) : nonZero(req.emailId),
    cannedResponseId: nonZero(req.cannedResponseId),
    dueDate: agent && req.dueDate ? timestampDate(req.dueDate) : undefined,
    answers: { ...req.answers },
    ...(legacy ? { typedAnswers: typedAnswersOf(legacy.typedAnswers, req.answers) } : {}),
    ...(legacy?.dueDate ? { legacyDueDate: legacy.dueDate } : {}),
    alert: req.alert ?? true,
    autorespond: req.autorespond ?? true,
    ...(notice ? { ticketNotice: notice } : {}),
    legacy: legacy !== undefined,
    ...(legacy?.messageSent ? { messageSent: true } : {}),
  };
}

/**
 * The legacy answers as PHP holds them: LegacyOptions.typed_answers' values, the other answers as their text
 * (an entry whose JSON is no value is left to its text).
 */
function typedAnswersOf(
  sent: Readonly<Record<string, string>>,
  texts: Readonly<Record<string, string>>,
): Map<string, PhpInput> {
  const typed = new Map<string, PhpInput>(Object.entries(texts));
  for (const [name, json] of Object.entries(sent)) {
    const value = phpInputOf(json);
    if (value !== undefined) typed.set(name, value);
  }
  return typed;
}

const PHP_NUMERIC = /^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$/;

/**
 * The legacy API's `emailId` as sent. The Email origin checks it with is_numeric (NaN here: "Unknown system
 * email"); otherwise Ticket::create stores it as sent in ost_ticket.email_id, where MySQL makes a number of
 * it: rounded, its leading digits, or 0 ("false", "abc").
 */
function legacyEmailId(sent: string, source: string): number {
  // MySQL clamps what its unsigned INT cannot hold: a negative id is 0, `1e309` or `99999999999` 4294967295.
  const column = (n: number) => Math.min(0xffffffff, Math.max(0, n));
  if (PHP_NUMERIC.test(sent)) return column(Math.round(Number(sent.trim())));
  if (source.toLowerCase() === "email") return Number.NaN;
  return column(Number(/^\s*\+?(\d+)/.exec(sent)?.[1] ?? 0));
}

function noticeChoice(notice: TicketNotice): TicketNoticeChoice | undefined {
  switch (notice) {
    case TicketNotice.ALL:
      return "all";
    case TicketNotice.USER:
      return "user";
    case TicketNotice.NONE:
      return "none";
    default:
      return undefined;
  }
}

/**
 * The staff panel's "Ticket Notice" is an agent's choice: osTicket's API refuses `reply-to` ("Unexpected
 * data received in API request") and the client portal offers none, so another caller's choice is
 * INVALID_ARGUMENT rather than a notice sent (or withheld) against it. An agent's choice must agree with an
 * `autorespond` also given (false is "Do Not Send Alert").
 */
function assertTicketNotice(req: CreateTicketRequest, principal: Principal): void {
  if (req.ticketNotice === TicketNotice.UNSPECIFIED) return;
  const refuse = (description: string) =>
    validationFailure(Code.InvalidArgument, [{ field: "ticket_notice", description }]);
  if (!isAgent(principal))
    throw refuse("only agents choose the Ticket Notice (the staff panel's Alert All / Alert to User / none)");
  const notice = noticeChoice(req.ticketNotice);
  if (!notice) throw refuse(`unknown Ticket Notice ${req.ticketNotice}`);
  if (req.autorespond !== undefined && req.autorespond !== (notice !== "none"))
    throw refuse(`autorespond ${req.autorespond} contradicts the Ticket Notice chosen`);
}

/**
 * Legacy `ccs`: user ids (an address finds its user); unknown ones are skipped, as Ticket::addCollaborators
 * skips ids User::lookup does not find.
 */
async function legacyCollaboratorIds(m: Mutation, req: CreateTicketRequest): Promise<number[]> {
  const ids: number[] = [];
  for (const c of req.collaborators) {
    const given = c.email.trim();
    if (/^\d+$/.test(given)) {
      ids.push(Number(given));
      continue;
    }
    const [row] = await query(m.tx, "SELECT user_id FROM ost_user_email WHERE address = ?", [given]);
    if (row) ids.push(Number(row.user_id));
  }
  return ids;
}

/** The typed Cc list for the domain: addresses, with the name a new end user gets. */
function collaboratorAddresses(req: CreateTicketRequest): CollaboratorAddress[] {
  return req.collaborators.map((c) => ({ email: c.email, name: nonEmpty(c.name.trim()) }));
}

/**
 * osTicket's `$can_create` for a typed request: an agent creates end users (a new requester, new Cc
 * addresses) only with the user.create permission (osTicket 1.18). Other callers are not limited here: the
 * API creates requesters freely and adds existing Cc users only, the client portal has no Cc list on a new
 * ticket. The domain reports the refusal where osTicket does (see `permissionFirst`).
 */
function mayCreateUsers(principal: Principal, legacy: boolean): boolean {
  return legacy || !isAgent(principal) || (principal.agent?.permissions.includes(USER_CREATE) ?? false);
}

/**
 * Request fields of the domain keys only CreateTicket has (Ticket::open's requester checks and assignment,
 * the Cc list). The staff panel's one `assignId` is the request's staff_id, or its team_id.
 */
function createField(key: string, req: CreateTicketRequest): string | undefined {
  if (key.startsWith("collaborators[")) return key;
  if (key === "email") return "requester.email";
  if (key === "name") return "requester.name";
  if (key === "assignId") return req.staffId ? "staff_id" : "team_id";
  if (key === "cannedResponseId") return "canned_response_id";
  return undefined;
}

/** The agent's roles by department (Staff::getRoles) for Ticket::open's checks; none for other callers. */
function agentRoles(principal: Principal, legacy: boolean): Map<number, readonly string[]> | undefined {
  const agent = principal.agent;
  if (legacy || !isAgent(principal) || !agent) return undefined;
  return new Map(agent.departments.map((d) => [d.deptId, d.permissions]));
}

/**
 * One Connect error carries one code, so it follows the first error of osTicket's error map: when that is a
 * permission refusal — Ticket::open's ticket.create in the department chosen (which refuses alone) or its
 * ticket.assign, Ticket::create's user.create (`user`, or a Cc address's "Add New" dialog) — nothing before it
 * in Ticket::open / Ticket::create failed and the call is PERMISSION_DENIED naming that request field alone
 * (what the caller may not do, whatever else the request would need). Otherwise the error map stays an
 * INVALID_ARGUMENT with every violation, a refusal further down included.
 */
function permissionFirst(error: unknown, req: CreateTicketRequest): unknown {
  if (!(error instanceof TicketValidationError)) return error;
  const first = error.issues[0];
  const denied = (field: string) =>
    validationFailure(Code.PermissionDenied, [{ field, description: first?.message ?? "" }]);
  if (first?.message === DEPT_CREATE_DENIED) return denied("dept_id");
  if (first?.key === "assignId" && first.message === ASSIGN_DENIED)
    return denied(createField(first.key, req) ?? "");
  if (first?.message !== USER_CREATE_DENIED) return error;
  return denied(first.key === "user" ? "requester.email" : (createField(first.key, req) ?? ""));
}

const USER_CREATE = "user.create";

/** TicketService.CreateTicket. */
export async function handleCreateTicket(
  rt: Runtime,
  req: CreateTicketRequest,
  ctx: HandlerContext,
): Promise<CreateTicketResponse> {
  const principal = callerOf(ctx);
  const legacy = req.legacy !== undefined;
  if (isEndUser(principal) && req.collaborators.length)
    throw validationFailure(Code.PermissionDenied, [
      { field: "collaborators", description: "end users cannot add collaborators to a new ticket" },
    ]);
  assertTicketNotice(req, principal);
  if (isEndUser(principal) && req.cannedResponseId)
    throw validationFailure(Code.InvalidArgument, [
      { field: "canned_response_id", description: "end users cannot post a canned response" },
    ]);
  const typed = createInput(req, principal);
  // A typed request without ip_address records the caller's address, as osTicket's portal and staff panel do.
  const input = legacy || typed.ipAddress ? typed : { ...typed, ipAddress: callerAddress(ctx) };
  const files = await prepareFiles(
    rt.deps.clients?.files,
    req.attachments,
    await rt.callOptions(ctx),
    legacy,
  );
  // A refusal osTicket logs (ban list, filter, open-ticket limit) is logged once its transaction is gone.
  let refusal: unknown;
  try {
    return await createInTransaction();
  } catch (error) {
    if (refusal !== undefined) await logRefusal(rt, refusal, req.legacy?.remoteAddress || req.ipAddress);
    throw error;
  }

  function createInTransaction(): Promise<CreateTicketResponse> {
    return mutate(
      rt,
      ctx,
      {
        rpc: "CreateTicket",
        requestSchema: CreateTicketRequestSchema,
        request: req,
        responseSchema: CreateTicketResponseSchema,
        fields: {
          formField: formFieldResolver(rt),
          key: (key) => createField(key, req),
        },
      },
      async (m) => {
        await assertMayLinkFiles(ctx, m.tx, files.named);
        const created = await createTicket(
          m.sql,
          {
            ...input,
            message: input.message && rewriteContentIds(input.message, files),
            attachments: files.links,
            ...(legacy
              ? { collaboratorUserIds: await legacyCollaboratorIds(m, req) }
              : {
                  collaboratorAddresses: collaboratorAddresses(req),
                  createCollaborators: isAgent(principal),
                }),
            // osTicket posts a SYSTEM note per file it could not store (FACTS §2.4).
            fileImportErrors: files.importErrors.map((e) => ({ name: e.name, message: e.description })),
            mayCreateUsers: mayCreateUsers(principal, legacy),
            agentRoles: agentRoles(principal, legacy),
          },
          domainActor(principal),
          m.ports,
        ).catch((error: unknown) => {
          refusal = error;
          throw permissionFirst(error, req);
        });
        const ticket = await m.ticket(created.ticketId, {
          created: { collaborators: created.collaboratorsAdded > 0 },
        });
        await publishDomainEvents(m, { after: ticket });
        // End users get their ticket as the portal shows it (the event above carries the whole ticket).
        const view = await EndUserView.for(principal, m.tx);
        return {
          ticket: view.ticket(ticket),
          messageEntryId: created.messageEntryId,
          attachmentErrors: files.importErrors.map((e) => ({ name: e.name, description: e.description })),
        };
      },
    );
  }
}
