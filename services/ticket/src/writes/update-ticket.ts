/**
 * The staff panel's ticket edits for the fields the contract's TicketPatch names: subject, priority and
 * custom answers (the form entry values and the ticket's `__cdata` mirror), help topic, SLA plan and the
 * agent-set due date. Everything is validated before the first write. A change of SLA plan or due date
 * clears the overdue flag and recomputes the SLA due date (Ticket::updateEstDueDate); a due date cannot be
 * set on a closed ticket. All changes of one request are logged as ONE `edited` thread event shaped the
 * way the staff panel's edit event renders it: changed columns by name with `[old, new]` (due dates as
 * DB-local "Y-m-d H:i:s" text), changed answers under `fields` with each field type's database form
 * (a priority is `["Normal", 2]`). `updated`, `lastupdate` and the T search row are rewritten by the change.
 *
 * Built on the write core's building blocks (use case context, row-locked ticket, TicketChange).
 */

import {
  type AnswerContext,
  type CleanValue,
  listIdOf,
  parseAnswer,
  storeAnswer,
  validateAnswer,
} from "@ostmesh/kit/osticket/forms/answers.ts";
import { answerDates } from "@ostmesh/kit/osticket/forms/datetime.ts";
import { decodeSpecialChars, stripTags } from "@ostmesh/kit/osticket/html/format.ts";
import { withUseCaseReading } from "../domain/context.ts";
import { TicketActionError, TicketValidationError, type ValidationIssue } from "../domain/errors.ts";
import { upsertCdata } from "../domain/forms/entries.ts";
import { listItemsRead } from "../domain/forms/lists.ts";
import type { Actor, Ports } from "../domain/ports.ts";
import { cdataColumn, type FormField, isEnabled } from "../domain/reference/forms.ts";
import { TopicFlag } from "../domain/reference/lookups.ts";
import { int, strOrNull } from "../domain/rows.ts";
import type { Sql } from "../domain/sql.ts";
import { NOW, TicketChange } from "../domain/ticket/change.ts";
import { ticketForUpdateRead, ticketStateOf } from "../domain/ticket/state.ts";
import { updateEstimatedDueDate } from "../domain/ticket/status.ts";
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

interface StoredValue {
  readonly value: string | null;
  readonly valueId: number | null;
}

/**
 * Format::truncate(Format::striptags(text), 200), which the inline editor applies to a memo's logged
 * values so the event fits its varchar(1024) column: from 200 bytes on, cut to the last space in the first
 * 200 bytes and " ..." appended (nothing but " ..." without a space).
 */
function memoChangeText(text: string): string {
  const plain = stripTags(decodeSpecialChars(text));
  const bytes = Buffer.from(plain, "utf8");
  if (bytes.length < 200) return plain;
  const head = bytes.subarray(0, 200);
  const space = head.lastIndexOf(0x20);
  return `${space === -1 ? "" : head.subarray(0, space).toString("utf8")} ...`;
}

/**
 * An answer's `[old, new]` in the edited event as the field's getChanges() gives it: the database form of
 * each value, where an answer never stored reads as `false` (a checkbox's as "0"), a cleared choice or list
 * item as null and a cleared text as "".
 */
function answerChange(field: FormField, old: string | null, next: string | null): readonly unknown[] {
  if (field.type === "memo") return [memoChangeText(old ?? ""), memoChangeText(next ?? "")];
  const selection = field.type === "choices" || listIdOf(field) !== undefined;
  return [old ?? (field.type === "bool" ? "0" : false), next ?? (selection ? null : "")];
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

    // The inline editor's widgets read the answers: list items looked up (their lists read only when a
    // list field is answered), dates written as the date picker writes them in the agent's zone.
    const listIds = new Set<number>();
    for (const name of Object.keys(input.answers ?? {})) {
      const field = slots.get(name)?.field;
      const listId = field ? listIdOf(field) : undefined;
      if (listId !== undefined) listIds.add(listId);
    }
    const listRead = listItemsRead([...listIds], 0);
    const dates = answerDates(ctx.config, ctx.staff?.timezone);
    const context: AnswerContext = {
      dates,
      listItems: listRead.statements.length ? listRead.read(await tx.batch(listRead.statements)) : new Map(),
    };

    // --- Validation (nothing written before all of it passed).
    const issues: ValidationIssue[] = [];
    const newAnswers: Array<{ slot: AnswerSlot; value: CleanValue }> = [];
    const isEmail = (a: string) => !!emailHost(a);
    if (input.subject !== undefined) {
      const slot = slots.get("subject");
      if (!slot) issues.push({ key: "subject", message: "The ticket form has no subject field" });
      else {
        const value = parseAnswer(slot.field, input.subject, context);
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
      const value = raw === "" ? null : parseAnswer(slot.field, raw, context);
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
    if (input.dueDate && ticket.state === "closed") {
      // Ticket::update's refusal (the inline editor is only offered on open tickets); clearing is allowed.
      throw new TicketActionError("duedate", "Due date can NOT be set on a closed ticket");
    }
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
    }
    if (input.dueDate !== undefined) {
      const next = input.dueDate === null ? null : Math.floor(input.dueDate.getTime() / 60_000) * 60;
      // The event keeps both dates as the column holds them (DB-local text), which the panel renders.
      const current = await tx.first(
        "SELECT UNIX_TIMESTAMP(duedate) AS due, DATE_FORMAT(duedate, '%Y-%m-%d %H:%i:%s') AS was," +
          " DATE_FORMAT(FROM_UNIXTIME(?), '%Y-%m-%d %H:%i:%s') AS next FROM ost_ticket WHERE ticket_id = ?",
        [next, ticket.id],
      );
      const was = current?.due === null || current?.due === undefined ? null : int(current, "due");
      if (was !== next) {
        change.set("duedate", next === null ? null : { sql: "FROM_UNIXTIME(?)", params: [next] });
        columnChanges.duedate = [
          current ? strOrNull(current, "was") : null,
          current ? strOrNull(current, "next") : null,
        ];
        changed.add("due_date");
        // A new (or no) due date ends the overdue state; set here rather than by updateEstimatedDueDate's
        // clearOverdue, which would put back the old due date's column value.
        if (change.view.isOverdue) {
          change.view.isOverdue = false;
          change.set("isoverdue", 0);
        }
      }
    }

    // --- Answers (priority is the ticket form's priority field).
    const fieldChanges: Record<string, unknown> = {};
    const cdata = new Map<string, string>();
    const write = async (
      slot: AnswerSlot,
      next: StoredValue & { cdata: string },
      logged: (old: StoredValue) => Promise<readonly unknown[]> | readonly unknown[],
    ) => {
      const old = slot.old ?? { value: null, valueId: null };
      if (old.value === next.value && (old.valueId ?? 0) === (next.valueId ?? 0)) return false;
      await tx.run(
        "INSERT INTO ost_form_entry_values (entry_id, field_id, value, value_id) VALUES (?, ?, ?, ?)" +
          " ON DUPLICATE KEY UPDATE value = VALUES(value), value_id = VALUES(value_id)",
        [slot.entryId, slot.field.id, next.value, next.valueId],
      );
      await tx.run("UPDATE ost_form_entry SET updated = NOW() WHERE id = ?", [slot.entryId]);
      fieldChanges[String(slot.field.id)] = await logged(old);
      if (slot.base) cdata.set(cdataColumn(slot.field), next.cdata);
      return true;
    };
    if (input.priorityId !== undefined) {
      const slot = [...slots.values()].find((s) => s.field.type === "priority");
      if (slot) {
        const next = priority
          ? { value: priority.desc, valueId: priority.id, cdata: String(priority.id) }
          : { value: null, valueId: 0, cdata: "" };
        // PriorityField's database form is [label, id] (the label as the priority table has it now);
        // an answer never stored is `false`, one whose priority is gone null, a cleared one null.
        const logged = async (old: StoredValue) => {
          let before: unknown = false;
          if (old.value !== null && old.valueId === null) before = old.value;
          else if (old.value !== null) {
            const was = await lookups.priority(old.valueId ?? 0);
            before = was ? [was.desc, was.id] : null;
          }
          return [before, priority ? [priority.desc, priority.id] : null];
        };
        if (await write(slot, next, logged)) changed.add("priority_id");
      }
    }
    for (const { slot, value } of newAnswers) {
      const stored = storeAnswer(slot.field, value, dates);
      if (await write(slot, stored, (old) => answerChange(slot.field, old.value, stored.value)))
        changed.add(slot.field.name === "subject" ? "subject" : "answers");
    }

    if (changed.size === 0) return { changed: [] };
    if (cdata.size) upsertCdata(tx, "ost_ticket__cdata", "ticket_id", ticket.id, cdata);
    // Which of osTicket's two edit paths UpdateTicket follows: a field mask changes only the fields it names,
    // as the staff panel's inline field editor (Ticket::updateField) does, and that path stamps lastupdate
    // on every edit. The full edit form (Ticket::update) re-posts every field and leaves lastupdate alone;
    // UpdateTicket never re-posts fields it was not asked to change, so it is the inline edit that it
    // mirrors. Setting lastupdate also means an answers-only change still writes `updated` (Ticket::save).
    change.set("lastupdate", NOW);
    // A new SLA plan or due date: clearOverdue and the SLA due date recomputed (Ticket::updateEstDueDate).
    if (changed.has("sla_id") || changed.has("due_date")) await updateEstimatedDueDate(change);
    // One request is one edit, logged as one event like the full form's: columns by name, answers under
    // `fields` (the panel describes both from one row; a mask of one field gives the inline edit's row).
    await change.event("edited", {
      ...columnChanges,
      ...(Object.keys(fieldChanges).length ? { fields: fieldChanges } : {}),
    });
    await change.finish();
    return { changed: PATCH_PATHS.filter((p) => changed.has(p)) };
  });
}
