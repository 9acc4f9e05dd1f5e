/** The RPCs that change an existing ticket: replies, messages, notes, status, assignment, transfer. */

import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { runBatchRead } from "@ostmesh/db";
import type { TicketPermission } from "@ostmesh/kit/auth/index.ts";
import { EventTypes } from "@ostmesh/proto";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import type { Ticket } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import {
  type AssignTicketRequest,
  AssignTicketRequestSchema,
  type AssignTicketResponse,
  AssignTicketResponseSchema,
  type ChangeStatusRequest,
  ChangeStatusRequestSchema,
  type ChangeStatusResponse,
  ChangeStatusResponseSchema,
  type PostMessageRequest,
  PostMessageRequestSchema,
  type PostMessageResponse,
  PostMessageResponseSchema,
  type PostNoteRequest,
  PostNoteRequestSchema,
  type PostNoteResponse,
  PostNoteResponseSchema,
  type PostReplyRequest,
  PostReplyRequestSchema,
  type PostReplyResponse,
  PostReplyResponseSchema,
  type TransferTicketRequest,
  TransferTicketRequestSchema,
  type TransferTicketResponse,
  TransferTicketResponseSchema,
  type UpdateTicketRequest,
  UpdateTicketRequestSchema,
  type UpdateTicketResponse,
  UpdateTicketResponseSchema,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import {
  assertMayLinkFiles,
  authorizeTicketWith,
  callerOf,
  domainActor,
  EndUserView,
  idOf,
  kindOf,
} from "../access.ts";
import {
  assignTicket,
  changeStatus,
  isMergedChild,
  postMessage,
  postNote,
  postReply,
  releaseTicket,
  transferTicket,
} from "../domain/index.ts";
import { invalidArgument, notFound } from "../errors.ts";
import { prepareFiles, rewriteContentIds } from "../files.ts";
import { bodyFormat, sourceColumn } from "../mapping.ts";
import type { Runtime } from "../runtime.ts";
import {
  PATCH_PATHS,
  type PatchPath,
  type UpdateTicketInput,
  updateTicket,
} from "../writes/update-ticket.ts";
import { callerAddress } from "./create.ts";
import { formFieldResolver, type Mutation, mutate } from "./mutation.ts";
import { publishDomainEvents } from "./publish.ts";

function requireTicketId(ticketId: number): void {
  if (!ticketId) throw invalidArgument("ticket_id", "ticket_id is required");
}

/** Authorizes the caller on the ticket inside the transaction and returns the ticket as it is before. */
async function beforeAction(
  m: Mutation,
  ctx: HandlerContext,
  ticketId: number,
  permission?: TicketPermission,
): Promise<Ticket> {
  const [, before] = await authorizeTicketWith(ctx, m.tx, ticketId, permission, m.ticketRead(ticketId));
  if (!before) throw notFound();
  return before;
}

/**
 * The role permission moving a ticket to a status takes (agents, in the ticket's department): ticket.close
 * to close, ticket.delete to delete, whether asked for alone or with a reply or a note; and, asked for alone
 * (the staff panel's status menu), ticket.close or ticket.create to set an open status. None for a status id
 * that is unknown, which the status change itself refuses.
 */
function statusPermission(m: Mutation, statusId: number, alone = false): TicketPermission {
  const target = statusId ? m.ref.statuses.get(statusId) : undefined;
  if (target?.state === TicketState.CLOSED) return ["ticket.close"];
  if (target?.state === TicketState.DELETED) return ["ticket.delete"];
  if (target?.state === TicketState.OPEN && alone) return [["ticket.close", "ticket.create"]];
  return [];
}

/** The agent an API key or service acts for (`staff_id`), or the agent calling. */
function actingStaffId(ctx: HandlerContext, requested: number, field: string, required: boolean): number {
  const principal = callerOf(ctx);
  if (kindOf(principal) === PrincipalKind.AGENT) return idOf(principal);
  if (!requested && required) throw invalidArgument(field, `${field} is required for API keys and services`);
  return requested;
}

const bodyField = { key: (k: string) => (["response", "message", "note"].includes(k) ? "body" : undefined) };

export async function handlePostReply(
  rt: Runtime,
  req: PostReplyRequest,
  ctx: HandlerContext,
): Promise<PostReplyResponse> {
  requireTicketId(req.ticketId);
  const staffId = actingStaffId(ctx, req.staffId, "staff_id", true);
  const files = await prepareFiles(rt.deps.clients?.files, req.attachments, await rt.callOptions(ctx), false);
  const notify = req.notify ?? true;
  return mutate(
    rt,
    ctx,
    {
      rpc: "PostReply",
      requestSchema: PostReplyRequestSchema,
      request: req,
      responseSchema: PostReplyResponseSchema,
      fields: {
        key: (k) => (k === "staff" ? "staff_id" : k === "status" ? "reply_status_id" : bodyField.key(k)),
      },
    },
    async (m) => {
      const before = await beforeAction(m, ctx, req.ticketId, [
        "ticket.reply",
        ...statusPermission(m, req.replyStatusId),
      ]);
      await assertMayLinkFiles(ctx, m.tx, files.named);
      const result = await postReply(
        m.sql,
        {
          ticketId: req.ticketId,
          body: rewriteContentIds(req.body, files),
          format: bodyFormat(req.format),
          replyStatusId: req.replyStatusId || undefined,
          attachments: files.links,
          recipients: notify ? "all" : "none",
          ipAddress: callerAddress(ctx),
          respectLock: kindOf(callerOf(ctx)) === PrincipalKind.AGENT,
        },
        domainActor(callerOf(ctx), staffId),
        m.ports,
      );
      const after = await m.ticket(req.ticketId);
      await publishDomainEvents(m, { before, after, notify });
      return { entry: await m.entry(result.entryId), ticket: after };
    },
  );
}

export async function handlePostMessage(
  rt: Runtime,
  req: PostMessageRequest,
  ctx: HandlerContext,
): Promise<PostMessageResponse> {
  requireTicketId(req.ticketId);
  const principal = callerOf(ctx);
  const endUser = kindOf(principal) === PrincipalKind.END_USER;
  const files = await prepareFiles(rt.deps.clients?.files, req.attachments, await rt.callOptions(ctx), false);
  return mutate(
    rt,
    ctx,
    {
      rpc: "PostMessage",
      requestSchema: PostMessageRequestSchema,
      request: req,
      responseSchema: PostMessageResponseSchema,
      fields: { key: (k) => (k === "user" ? "user_id" : bodyField.key(k)) },
    },
    async (m) => {
      const addressed = await beforeAction(m, ctx, req.ticketId);
      // A merged child's messages go to its parent (Ticket::postMessage): the change is the parent's.
      const before =
        addressed.parentTicketId &&
        isMergedChild({ parentId: addressed.parentTicketId, flags: addressed.flags })
          ? ((await runBatchRead(m.tx, m.ticketRead(addressed.parentTicketId))) ?? addressed)
          : addressed;
      await assertMayLinkFiles(ctx, m.tx, files.named);
      const result = await postMessage(
        m.sql,
        {
          ticketId: req.ticketId,
          body: rewriteContentIds(req.body, files),
          format: bodyFormat(req.format),
          userId: endUser ? idOf(principal) : req.userId || undefined,
          source: sourceColumn(req.source),
          ipAddress: req.ipAddress || callerAddress(ctx),
          attachments: files.links,
        },
        domainActor(principal),
        m.ports,
      );
      const after = await m.ticket(result.ticketId);
      await publishDomainEvents(m, { before, after });
      const view = await EndUserView.for(principal, m.tx);
      const entry = await m.entry(result.entryId);
      return {
        entry: entry ? view.entries([entry])[0] : undefined,
        ticket: view.ticket(after),
        reopened: result.reopened,
      };
    },
  );
}

export async function handlePostNote(
  rt: Runtime,
  req: PostNoteRequest,
  ctx: HandlerContext,
): Promise<PostNoteResponse> {
  requireTicketId(req.ticketId);
  const staffId = actingStaffId(ctx, req.staffId, "staff_id", false);
  const files = await prepareFiles(rt.deps.clients?.files, req.attachments, await rt.callOptions(ctx), false);
  return mutate(
    rt,
    ctx,
    {
      rpc: "PostNote",
      requestSchema: PostNoteRequestSchema,
      request: req,
      responseSchema: PostNoteResponseSchema,
      fields: { key: (k) => (k === "staff" ? "staff_id" : bodyField.key(k)) },
    },
    async (m) => {
      const before = await beforeAction(m, ctx, req.ticketId, statusPermission(m, req.statusId));
      await assertMayLinkFiles(ctx, m.tx, files.named);
      const result = await postNote(
        m.sql,
        {
          ticketId: req.ticketId,
          title: req.title,
          body: rewriteContentIds(req.body, files),
          format: bodyFormat(req.format),
          statusId: req.statusId || undefined,
          ipAddress: callerAddress(ctx),
          attachments: files.links,
          respectLock: kindOf(callerOf(ctx)) === PrincipalKind.AGENT,
        },
        domainActor(callerOf(ctx), staffId),
        m.ports,
      );
      const after = await m.ticket(req.ticketId);
      await publishDomainEvents(m, { before, after });
      return { entry: await m.entry(result.entryId), ticket: after };
    },
  );
}

export async function handleChangeStatus(
  rt: Runtime,
  req: ChangeStatusRequest,
  ctx: HandlerContext,
): Promise<ChangeStatusResponse> {
  requireTicketId(req.ticketId);
  if (!req.statusId) throw invalidArgument("status_id", "status_id is required");
  return mutate(
    rt,
    ctx,
    {
      rpc: "ChangeStatus",
      requestSchema: ChangeStatusRequestSchema,
      request: req,
      responseSchema: ChangeStatusResponseSchema,
      fields: { key: (k) => (k === "status" ? "status_id" : undefined) },
    },
    async (m) => {
      const target = m.ref.statuses.get(req.statusId);
      if (!target) throw invalidArgument("status_id", `unknown status ${req.statusId}`);
      const before = await beforeAction(m, ctx, req.ticketId, statusPermission(m, req.statusId, true));
      const result = await changeStatus(
        m.sql,
        {
          ticketId: req.ticketId,
          statusId: req.statusId,
          comment: req.comment || undefined,
          ipAddress: callerAddress(ctx),
        },
        domainActor(callerOf(ctx)),
        m.ports,
      );
      const after = result.deleted ? undefined : await m.ticket(req.ticketId);
      await publishDomainEvents(m, { before, after, noteEntryId: result.entryId });
      return { ticket: after, noteEntryId: result.entryId, deleted: result.deleted };
    },
  );
}

export async function handleAssignTicket(
  rt: Runtime,
  req: AssignTicketRequest,
  ctx: HandlerContext,
): Promise<AssignTicketResponse> {
  requireTicketId(req.ticketId);
  const assignee = req.assignee;
  if (assignee.case === undefined)
    throw invalidArgument("assignee", "one of staff_id, team_id or release is required");
  if (assignee.case === "release" && !assignee.value)
    throw invalidArgument("release", "release must be true (or give staff_id or team_id)");
  if (assignee.case !== "release" && !assignee.value)
    throw invalidArgument(
      assignee.case === "staffId" ? "staff_id" : "team_id",
      "the assignee id must not be 0",
    );
  return mutate(
    rt,
    ctx,
    {
      rpc: "AssignTicket",
      requestSchema: AssignTicketRequestSchema,
      request: req,
      responseSchema: AssignTicketResponseSchema,
      fields: {
        key: (k) =>
          k === "assignee" || k === "staff"
            ? assignee.case === "teamId"
              ? "team_id"
              : "staff_id"
            : k === "team"
              ? "team_id"
              : undefined,
      },
    },
    async (m) => {
      const release = assignee.case === "release";
      const before = await beforeAction(m, ctx, req.ticketId, release ? "ticket.release" : "ticket.assign");
      const actor = domainActor(callerOf(ctx));
      const comment = req.comment || undefined;
      const ipAddress = callerAddress(ctx);
      const result = release
        ? await releaseTicket(m.sql, { ticketId: req.ticketId, comment, ipAddress }, actor, m.ports)
        : await assignTicket(
            m.sql,
            {
              ticketId: req.ticketId,
              assignee:
                assignee.case === "teamId" ? { teamId: assignee.value } : { staffId: Number(assignee.value) },
              comment,
              ipAddress,
            },
            actor,
            m.ports,
          );
      const after = await m.ticket(req.ticketId);
      await publishDomainEvents(m, { before, after, noteEntryId: result.entryId });
      return { ticket: after, noteEntryId: result.entryId };
    },
  );
}

export async function handleTransferTicket(
  rt: Runtime,
  req: TransferTicketRequest,
  ctx: HandlerContext,
): Promise<TransferTicketResponse> {
  requireTicketId(req.ticketId);
  if (!req.deptId) throw invalidArgument("dept_id", "dept_id is required");
  return mutate(
    rt,
    ctx,
    {
      rpc: "TransferTicket",
      requestSchema: TransferTicketRequestSchema,
      request: req,
      responseSchema: TransferTicketResponseSchema,
      fields: { key: (k) => (k === "dept" || k === "department" ? "dept_id" : undefined) },
    },
    async (m) => {
      const before = await beforeAction(m, ctx, req.ticketId, "ticket.transfer");
      const result = await transferTicket(
        m.sql,
        {
          ticketId: req.ticketId,
          deptId: req.deptId,
          comment: req.comment || undefined,
          ipAddress: callerAddress(ctx),
        },
        domainActor(callerOf(ctx)),
        m.ports,
      );
      const after = await m.ticket(req.ticketId);
      await publishDomainEvents(m, { before, after, noteEntryId: result.entryId });
      return { ticket: after, noteEntryId: result.entryId };
    },
  );
}

/** UpdateTicket's fields for the write core's error keys. */
const PATCH_FIELDS: Readonly<Record<string, string>> = {
  subject: "patch.subject",
  priorityId: "patch.priority_id",
  slaId: "patch.sla_id",
  topicId: "patch.help_topic_id",
  duedate: "patch.due_date",
};

export async function handleUpdateTicket(
  rt: Runtime,
  req: UpdateTicketRequest,
  ctx: HandlerContext,
): Promise<UpdateTicketResponse> {
  requireTicketId(req.ticketId);
  const paths = req.updateMask?.paths ?? [];
  if (paths.length === 0) throw invalidArgument("update_mask", "update_mask must name at least one field");
  const unknown = paths.find((p) => !PATCH_PATHS.some((known) => known === p));
  if (unknown !== undefined) throw invalidArgument("update_mask", `unknown field ${unknown} in update_mask`);
  const patch = req.patch;
  const has = (path: PatchPath) => paths.includes(path);
  const input: UpdateTicketInput = {
    ticketId: req.ticketId,
    subject: has("subject") ? (patch?.subject ?? "") : undefined,
    priorityId: has("priority_id") ? (patch?.priorityId ?? 0) : undefined,
    slaId: has("sla_id") ? (patch?.slaId ?? 0) : undefined,
    dueDate: has("due_date") ? (patch?.dueDate ? timestampDate(patch.dueDate) : null) : undefined,
    topicId: has("help_topic_id") ? (patch?.helpTopicId ?? 0) : undefined,
    answers: has("answers") ? { ...patch?.answers } : undefined,
  };
  return mutate(
    rt,
    ctx,
    {
      rpc: "UpdateTicket",
      requestSchema: UpdateTicketRequestSchema,
      request: req,
      responseSchema: UpdateTicketResponseSchema,
      fields: {
        key: (k) => (k.startsWith("answers.") ? `patch.${k}` : PATCH_FIELDS[k]),
        formField: async (fieldId) => {
          const field = await formFieldResolver(rt)?.(fieldId);
          return field === undefined ? undefined : `patch.${field}`;
        },
      },
    },
    async (m) => {
      await beforeAction(m, ctx, req.ticketId, "ticket.edit");
      const result = await updateTicket(m.sql, input, domainActor(callerOf(ctx)), m.ports);
      const after = await m.ticket(req.ticketId);
      await m.settle();
      if (result.changed.length > 0)
        await m.event(
          EventTypes.TICKET_UPDATED,
          after,
          {
            case: "ticketUpdated",
            value: { changed: { paths: result.changed }, ticket: after },
          },
          m.threadEventOf("edited"),
        );
      return { ticket: after };
    },
  );
}
