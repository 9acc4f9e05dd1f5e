/**
 * The ticket write core: use cases that write osTicket's tables exactly as osTicket does, each a function
 * of (transaction, input, actor, ports). The RPC layer runs one per transaction (`inTransaction`, or the
 * `TicketWriteCore` facade) and serialises the emitted events into the outbox.
 */
import type { EntityManager } from "@mikro-orm/mysql";
import type { Actor, Ports } from "./ports.ts";
import { inTransaction } from "./sql.ts";
import {
  type ActionResult,
  type AssignInput,
  assignTicket,
  type ChangeStatusInput,
  type ChangeStatusResult,
  changeStatus,
  findOverdueTicketIds,
  markOverdue,
  type PostMessageInput,
  type PostMessageResult,
  type PostNoteInput,
  type PostReplyInput,
  postMessage,
  postNote,
  postReply,
  type ReleaseInput,
  releaseTicket,
  type TransferInput,
  transferTicket,
} from "./ticket/actions.ts";
import { type CreateTicketInput, type CreateTicketResult, createTicket } from "./ticket/create-ticket.ts";

export {
  cleanBody,
  cleanTitle,
  sanitizeRichText,
  stripEmoticons,
} from "@ostmesh/kit/osticket/html/format.ts";
export * from "./errors.ts";
export { formatTicketNumber, nextTicketNumber } from "./numbers.ts";
export { type OutboxRow, writeOutboxRow } from "./outbox.ts";
export * from "./ports.ts";
export { CORE_DEFAULTS, HelpdeskConfig, loadConfig } from "./reference/config.ts";
export { MetadataCache } from "./reference/forms.ts";
export { addWorkingHours, type BusinessSchedule, type ScheduleEntryDef } from "./sla/business-hours.ts";
export { computeSlaDueDate, loadBusinessSchedule } from "./sla/due-date.ts";
export { inTransaction, type Row, type RunResult, type Sql, type SqlValue, sqlFor } from "./sql.ts";
export {
  type SystemLogRow,
  type SystemLogType,
  sanitizeLogText,
  writeSystemLog,
} from "./syslog.ts";
export type { AttachmentLink } from "./thread/entries.ts";
export * from "./ticket/actions.ts";
export * from "./ticket/create-ticket.ts";
export { isMergedChild, type MergeType, mergeTypeOf, TicketFlag } from "./ticket/merge.ts";
export { dnsMailDomainVerifier, isEmailAddress } from "./users/email.ts";

/** Runs each use case in its own transaction on `em` with fixed ports (one instance per service). */
export class TicketWriteCore {
  readonly #em: EntityManager;
  readonly #ports: Ports;

  constructor(em: EntityManager, ports: Ports = {}) {
    this.#em = em;
    this.#ports = ports;
  }

  createTicket(input: CreateTicketInput, actor: Actor): Promise<CreateTicketResult> {
    return inTransaction(this.#em, (tx) => createTicket(tx, input, actor, this.#ports));
  }
  postReply(input: PostReplyInput, actor: Actor): Promise<ActionResult> {
    return inTransaction(this.#em, (tx) => postReply(tx, input, actor, this.#ports));
  }
  postMessage(input: PostMessageInput, actor: Actor): Promise<PostMessageResult> {
    return inTransaction(this.#em, (tx) => postMessage(tx, input, actor, this.#ports));
  }
  postNote(input: PostNoteInput, actor: Actor): Promise<ActionResult> {
    return inTransaction(this.#em, (tx) => postNote(tx, input, actor, this.#ports));
  }
  changeStatus(input: ChangeStatusInput, actor: Actor): Promise<ChangeStatusResult> {
    return inTransaction(this.#em, (tx) => changeStatus(tx, input, actor, this.#ports));
  }
  assign(input: AssignInput, actor: Actor): Promise<ActionResult> {
    return inTransaction(this.#em, (tx) => assignTicket(tx, input, actor, this.#ports));
  }
  release(input: ReleaseInput, actor: Actor): Promise<ActionResult> {
    return inTransaction(this.#em, (tx) => releaseTicket(tx, input, actor, this.#ports));
  }
  transfer(input: TransferInput, actor: Actor): Promise<ActionResult> {
    return inTransaction(this.#em, (tx) => transferTicket(tx, input, actor, this.#ports));
  }
  markOverdue(ticketId: number, actor: Actor): Promise<boolean> {
    return inTransaction(this.#em, (tx) => markOverdue(tx, ticketId, actor, this.#ports));
  }
  /** Cron: marks up to `limit` overdue tickets, each in its own transaction (one failure spares the rest). */
  async checkOverdue(actor: Actor, limit = 100): Promise<number[]> {
    const due = await inTransaction(this.#em, (tx) => findOverdueTicketIds(tx, limit));
    const marked: number[] = [];
    for (const id of due) if (await this.markOverdue(id, actor)) marked.push(id);
    return marked;
  }
}
