import { answerDates } from "@ostmesh/kit/osticket/forms/datetime.ts";
import { type BodyFormat, cleanBody, cleanTitle } from "@ostmesh/kit/osticket/html/format.ts";
import type { UseCaseContext } from "../context.ts";
import type { TicketStatus } from "../reference/lookups.ts";
import { staffDisplayName } from "../reference/lookups.ts";
import { replaceSearchRows, type SearchRow } from "../search.ts";
import type { SqlValue } from "../sql.ts";
import { type AttachmentLink, insertThreadEntry } from "../thread/entries.ts";
import { actorAuthor, annulEvents, type EventAuthor, logEvents } from "../thread/events.ts";
import { refreshTicketSearch, type TicketState } from "./state.ts";

/** A SQL expression instead of a bound value (NOW(), NULL-if-past...). */
export interface SqlExpression {
  readonly sql: string;
  readonly params?: readonly SqlValue[];
}

const isExpression = (v: SqlValue | SqlExpression): v is SqlExpression =>
  typeof v === "object" && v !== null && !Buffer.isBuffer(v);

export const NOW: SqlExpression = { sql: "NOW()" };

/** The mutable view of a ticket during one action. */
export interface TicketView {
  staffId: number;
  teamId: number;
  deptId: number;
  topicId: number;
  slaId: number;
  statusId: number;
  status: TicketStatus | undefined;
  state: string;
  isAnswered: boolean;
  isOverdue: boolean;
}

/**
 * Collects the column changes of one action on a loaded (row-locked) ticket and writes them with a single
 * UPDATE (`updated = NOW()` only when something changed, as Ticket::save), logs events with the
 * assignment snapshot of the moment, posts notes, and refreshes the search index at the end.
 */
export class TicketChange {
  readonly ctx: UseCaseContext;
  readonly ticket: TicketState;
  readonly view: TicketView;
  readonly #sets = new Map<string, SqlValue | SqlExpression>();
  readonly #search: SearchRow[] = [];

  constructor(ctx: UseCaseContext, ticket: TicketState) {
    this.ctx = ctx;
    this.ticket = ticket;
    this.view = {
      staffId: ticket.staffId,
      teamId: ticket.teamId,
      deptId: ticket.deptId,
      topicId: ticket.topicId,
      slaId: ticket.slaId,
      statusId: ticket.statusId,
      status: ticket.status,
      state: ticket.state,
      isAnswered: ticket.isAnswered,
      isOverdue: ticket.isOverdue,
    };
  }

  /** Sets a column (expressions always count as a change). */
  set(column: string, value: SqlValue | SqlExpression): void {
    this.#sets.set(column, value);
  }

  get dirty(): boolean {
    return this.#sets.size > 0;
  }

  setStaff(staffId: number): void {
    if (this.view.staffId === staffId) return;
    this.view.staffId = staffId;
    this.set("staff_id", staffId);
  }

  setTeam(teamId: number): void {
    if (this.view.teamId === teamId) return;
    this.view.teamId = teamId;
    this.set("team_id", teamId);
  }

  setAnswered(answered: boolean): void {
    if (this.view.isAnswered === answered) return;
    this.view.isAnswered = answered;
    this.set("isanswered", answered ? 1 : 0);
  }

  setStatus(status: TicketStatus): void {
    this.view.status = status;
    this.view.statusId = status.id;
    this.view.state = status.state.toLowerCase();
    this.set("status_id", status.id);
  }

  /** Author of the acting principal (agent username, portal user, or SYSTEM). */
  author(username?: string): Promise<EventAuthor> {
    return actorAuthor(this.ctx.lookups, this.ctx.tx, this.ctx.actor, username);
  }

  /** Logs one event with the ticket's assignment as it is now (ThreadEvent::forTicket). */
  async event(
    state: string,
    data?: Readonly<Record<string, unknown>> | null,
    options: { annul?: string; author?: EventAuthor } = {},
  ): Promise<void> {
    if (options.annul) await annulEvents(this.ctx.tx, this.ctx.lookups, this.ticket.threadId, options.annul);
    const actingStaff = this.ctx.actor.kind === "staff" ? this.ctx.actor.staffId : 0;
    await logEvents(
      this.ctx.tx,
      this.ctx.lookups,
      [
        {
          threadId: this.ticket.threadId,
          state,
          data: data ?? null,
          staffId: actingStaff && !this.view.staffId ? actingStaff : this.view.staffId,
          teamId: this.view.teamId,
          deptId: this.view.deptId,
          topicId: this.view.topicId,
          author: options.author ?? (await this.author()),
        },
      ],
      this.ctx.threadEventLogged,
    );
  }

  /**
   * Posts an internal note (Ticket::postNote / logNote): by the acting agent, else by `SYSTEM` or the given
   * poster name. The body is html unless told otherwise, as Ticket::logNote wraps strings (status and
   * assignment comments); strings posted through Ticket::postNote take the rich-text setting instead.
   */
  async note(
    title: string,
    body: string,
    options: {
      format?: BodyFormat;
      poster?: string;
      ipAddress?: string;
      attachments?: readonly AttachmentLink[];
    } = {},
  ): Promise<number> {
    const staff = this.ctx.staff;
    const format = options.format ?? "html";
    const entry = await insertThreadEntry(this.ctx.tx, {
      threadId: this.ticket.threadId,
      type: "N",
      pid: 0,
      staffId: staff?.id ?? 0,
      userId: 0,
      poster: staff ? staffDisplayName(staff, this.ctx.config.agentNameFormat) : (options.poster ?? "SYSTEM"),
      source: "",
      title: cleanTitle(title, this.ctx.htmlPolicy),
      body: cleanBody(body, format, {
        editorSpacing: this.ctx.actor.kind !== "system",
        policy: this.ctx.htmlPolicy,
      }),
      format,
      ipAddress: options.ipAddress ?? "",
      attachments: options.attachments ?? [],
    });
    if (entry.searchRow) this.#search.push(entry.searchRow);
    return entry.id;
  }

  /** Queues a search row (e.g. of a new thread entry) for the final REPLACE. */
  index(row: SearchRow | undefined): void {
    if (row) this.#search.push(row);
  }

  /** Writes the collected column changes. */
  async flush(): Promise<void> {
    if (!this.#sets.size) return;
    const parts: string[] = [];
    const params: SqlValue[] = [];
    for (const [column, value] of this.#sets) {
      if (isExpression(value)) {
        parts.push(`\`${column}\` = ${value.sql}`);
        params.push(...(value.params ?? []));
      } else {
        parts.push(`\`${column}\` = ?`);
        params.push(value);
      }
    }
    this.#sets.clear();
    // Deferred: it reaches the server with the transaction's next statement (every read included).
    this.ctx.tx.later(`UPDATE ost_ticket SET ${parts.join(", ")}, updated = NOW() WHERE ticket_id = ?`, [
      ...params,
      this.ticket.id,
    ]);
  }

  /** Flushes, then rewrites the ticket's `T` search row and every queued row (one REPLACE). */
  async finish(): Promise<void> {
    await this.flush();
    const rows = [
      ...this.#search,
      await refreshTicketSearch(
        this.ctx.tx,
        this.ticket,
        answerDates(this.ctx.config, this.ctx.staff?.timezone),
      ),
    ];
    await replaceSearchRows(this.ctx.tx, rows);
  }
}
