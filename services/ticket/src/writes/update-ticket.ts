/**
 * The staff panel's "Edit ticket" (Ticket::update and the ticket's dynamic forms) for the fields the
 * contract's TicketPatch names: subject, priority and custom answers (the form entry values and the
 * ticket's `__cdata` mirror), help topic, SLA plan (with the SLA due date recomputed from the reopen or
 * create time) and the agent-set due date. Everything is validated before the first write; changed columns
 * are logged as an `edited` thread event with their old and new values, changed answers as one with
 * `{"fields": {<field id>: [old, new]}}`; `updated` and the T search row are rewritten by the change.
 *
 * Built on the write core's building blocks (use case context, row-locked ticket, TicketChange).
 */
import { withUseCaseReading } from "../domain/context.ts";
import { TicketValidationError, type ValidationIssue } from "../domain/errors.ts";
import { type CleanValue, parseAnswer, storeAnswer, validateAnswer } from "../domain/forms/answers.ts";
import { upsertCdata } from "../domain/forms/entries.ts";
import type { Actor, Ports } from "../domain/ports.ts";
import { cdataColumn, type FormField, isEnabled } from "../domain/reference/forms.ts";
import { TopicFlag } from "../domain/reference/lookups.ts";
import { int, strOrNull } from "../domain/rows.ts";
import { computeSlaDueDate } from "../domain/sla/due-date.ts";
import type { Sql } from "../domain/sql.ts";
import { TicketChange } from "../domain/ticket/change.ts";
import { ticketForUpdateRead, ticketStateOf } from "../domain/ticket/state.ts";
import { emailHost } from "../domain/users/email.ts";

/** TicketPatch paths, as UpdateTicketRequest.update_mask names them. */
export const PATCH_PATHS = [
  "subject",
  "priority_id",
  "sla_id",
  "due_date",
  "help_topic_id",
  "answers",
] as const;
export type PatchPath = (typeof PATCH_PATHS)[number];

export interface UpdateTicketInput {
  readonly ticketId: number;
  readonly subject?: string;
  /** 0 = no priority. */
  readonly priorityId?: number;
  /** 0 = no SLA plan. */
  readonly slaId?: number;
  /** null clears the agent-set due date. */
  readonly dueDate?: Date | null;
  /** 0 = no help topic. */
  readonly topicId?: number;
  /** Custom answers by variable name; "" clears one. */
  readonly answers?: Readonly<Record<string, string>>;
}

export interface UpdateTicketResult {
  /** The paths whose values actually changed (nothing is written when this is empty). */
  readonly changed: PatchPath[];
}

interface AnswerSlot {
  readonly field: FormField;
  readonly entryId: number;
  /** The field belongs to the ticket form (mirrored in ost_ticket__cdata). */
  readonly base: boolean;
  readonly old: { value: string | null; valueId: number | null } | undefined;
}

/** Updates ticket fields; throws TicketValidationError (osTicket's keys) before writing anything. */
export function updateTicket(
  tx: Sql,
  input: UpdateTicketInput,
  actor: Actor,
  ports: Ports = {},
): Promise<UpdateTicketResult> {
  return withUseCaseReading(tx, actor, ports, ticketForUpdateRead(input.ticketId), async (ctx, rows) => {
    const { lookups } = ctx;
    const ticket = await ticketStateOf(rows, lookups, input.ticketId);
    const change = new TicketChange(ctx, ticket);

    // The ticket's answer slots: every enabled field of its form entries, by variable name.
    const entries = await tx.all(
      "SELECT e.id, e.form_id, f.type FROM ost_form_entry e JOIN ost_form f ON f.id = e.form_id" +
        " WHERE e.object_type = 'T' AND e.object_id = ? ORDER BY e.sort, e.id",
      [ticket.id],
    );
    const values = await tx.all(
      "SELECT v.entry_id, v.field_id, v.value, v.value_id FROM ost_form_entry_values v JOIN ost_form_entry e ON e.id = v.entry_id" +
        " WHERE e.object_type = 'T' AND e.object_id = ?",
      [ticket.id],
    );
    const stored = new Map(values.map((v) => [`${int(v, "entry_id")}:${int(v, "field_id")}`, v]));
    const slots = new Map<string, AnswerSlot>();
    for (const e of entries) {
      const form = await ctx.metadata.byId(tx, int(e, "form_id"));
      for (const field of form?.fields ?? []) {
        if (!field.name || !isEnabled(field) || slots.has(field.name)) continue;
        const row = stored.get(`${int(e, "id")}:${field.id}`);
        slots.set(field.name, {
          field,
          entryId: int(e, "id"),
          base: form?.type === "T",
          old: row
            ? { value: strOrNull(row, "value"), valueId: row.value_id === null ? null : int(row, "value_id") }
            : undefined,
        });
      }
    }

    // --- Validation (nothing written before all of it passed).
    const issues: ValidationIssue[] = [];
    const newAnswers: Array<{ slot: AnswerSlot; value: CleanValue }> = [];
    const isEmail = (a: string) => !!emailHost(a);
    if (input.subject !== undefined) {
      const slot = slots.get("subject");
      if (!slot) issues.push({ key: "subject", message: "The ticket form has no subject field" });
      else {
        const value = parseAnswer(slot.field, input.subject);
        for (const message of validateAnswer(slot.field, value, { required: true, isEmail }))
          issues.push({ key: String(slot.field.id), message });
        newAnswers.push({ slot, value });
      }
    }
    for (const [name, raw] of Object.entries(input.answers ?? {})) {
      const slot = slots.get(name);
      if (!slot || ["subject", "message", "priority"].includes(name) || slot.field.type === "thread") {
        issues.push({ key: `answers.${name}`, message: `The ticket has no field named ${name}` });
        continue;
      }
      const value = raw === "" ? null : parseAnswer(slot.field, raw);
      for (const message of validateAnswer(slot.field, value, { required: false, isEmail }))
        issues.push({ key: String(slot.field.id), message });
      newAnswers.push({ slot, value });
    }
    const priority = input.priorityId ? await lookups.priority(input.priorityId) : undefined;
    if (input.priorityId && !priority) issues.push({ key: "priorityId", message: "Unknown priority" });
    if (input.slaId && !(await lookups.sla(input.slaId)))
      issues.push({ key: "slaId", message: "Unknown SLA plan" });
    const topic = input.topicId ? await lookups.topic(input.topicId) : undefined;
    if (input.topicId && (!topic || (topic.flags & TopicFlag.ACTIVE) === 0))
      issues.push({ key: "topicId", message: "Unknown or inactive help topic" });
    if (input.dueDate && input.dueDate.getTime() / 1000 <= ctx.now)
      issues.push({ key: "duedate", message: "Due date must be in the future" });
    if (issues.length) throw new TicketValidationError(issues);

    // --- Columns.
    const changed = new Set<PatchPath>();
    const columnChanges: Record<string, unknown> = {};
    if (input.topicId !== undefined && input.topicId !== ticket.topicId) {
      change.view.topicId = input.topicId;
      change.set("topic_id", input.topicId);
      columnChanges.topic_id = [ticket.topicId, input.topicId];
      changed.add("help_topic_id");
    }
    if (input.slaId !== undefined && input.slaId !== ticket.slaId) {
      change.view.slaId = input.slaId;
      change.set("sla_id", input.slaId);
      columnChanges.sla_id = [ticket.slaId, input.slaId];
      changed.add("sla_id");
      const times = await tx.first(
        "SELECT UNIX_TIMESTAMP(COALESCE(reopened, created)) AS start FROM ost_ticket WHERE ticket_id = ?",
        [ticket.id],
      );
      const due = await computeSlaDueDate(tx, lookups, {
        slaId: input.slaId,
        deptId: ticket.deptId,
        startEpoch: times ? int(times, "start") : ctx.now,
        actorTimezone: ctx.staff?.timezone,
      });
      change.set("est_duedate", due === null ? null : { sql: "FROM_UNIXTIME(?)", params: [due] });
    }
    if (input.dueDate !== undefined) {
      const next = input.dueDate === null ? null : Math.floor(input.dueDate.getTime() / 60_000) * 60;
      const current = await tx.first(
        "SELECT UNIX_TIMESTAMP(duedate) AS due FROM ost_ticket WHERE ticket_id = ?",
        [ticket.id],
      );
      const was = current?.due === null || current?.due === undefined ? null : int(current, "due");
      if (was !== next) {
        change.set("duedate", next === null ? null : { sql: "FROM_UNIXTIME(?)", params: [next] });
        columnChanges.duedate = [ticket.duedate, next];
        changed.add("due_date");
      }
    }

    // --- Answers (priority is the ticket form's priority field).
    const fieldChanges: Record<string, unknown> = {};
    const cdata = new Map<string, string>();
    const write = async (
      slot: AnswerSlot,
      next: { value: string | null; valueId: number | null; cdata: string },
    ) => {
      const old = slot.old ?? { value: null, valueId: null };
      if (old.value === next.value && (old.valueId ?? 0) === (next.valueId ?? 0)) return false;
      await tx.run(
        "INSERT INTO ost_form_entry_values (entry_id, field_id, value, value_id) VALUES (?, ?, ?, ?)" +
          " ON DUPLICATE KEY UPDATE value = VALUES(value), value_id = VALUES(value_id)",
        [slot.entryId, slot.field.id, next.value, next.valueId],
      );
      await tx.run("UPDATE ost_form_entry SET updated = NOW() WHERE id = ?", [slot.entryId]);
      fieldChanges[String(slot.field.id)] = [old.value, next.value];
      if (slot.base) cdata.set(cdataColumn(slot.field), next.cdata);
      return true;
    };
    if (input.priorityId !== undefined) {
      const slot = [...slots.values()].find((s) => s.field.type === "priority");
      if (slot) {
        const next = priority
          ? { value: priority.desc, valueId: priority.id, cdata: String(priority.id) }
          : { value: null, valueId: 0, cdata: "" };
        if (await write(slot, next)) changed.add("priority_id");
      }
    }
    for (const { slot, value } of newAnswers) {
      if (await write(slot, storeAnswer(slot.field, value)))
        changed.add(slot.field.name === "subject" ? "subject" : "answers");
    }

    if (changed.size === 0) return { changed: [] };
    if (cdata.size) upsertCdata(tx, "ost_ticket__cdata", "ticket_id", ticket.id, cdata);
    // A change of answers alone still counts as a change of the ticket (Ticket::save → updated).
    if (change.dirty) await change.flush();
    else await tx.run("UPDATE ost_ticket SET updated = NOW() WHERE ticket_id = ?", [ticket.id]);
    if (Object.keys(columnChanges).length) await change.event("edited", columnChanges);
    if (Object.keys(fieldChanges).length) await change.event("edited", { fields: fieldChanges });
    await change.finish();
    return { changed: PATCH_PATHS.filter((p) => changed.has(p)) };
  });
}
