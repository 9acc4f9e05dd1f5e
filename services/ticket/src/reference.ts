/**
 * Reference data tickets point at (statuses, priorities, departments, help topics, SLA plans, teams), read
 * whole — they are small admin-edited tables — and reused for a short time across requests, so a ticket
 * page resolves its names without a join per row. The reference RPCs are served from the same snapshot.
 */
import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import type { EntityManager } from "@ostmesh/db";
import { query } from "@ostmesh/db";
import type { TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import {
  type Department,
  DepartmentSchema,
  type FieldChoice,
  FieldChoiceSchema,
  type Form,
  type FormField,
  FormFieldSchema,
  FormSchema,
  type HelpTopic,
  HelpTopicSchema,
  type Priority,
  PrioritySchema,
  type Sla,
  SlaSchema,
  type TicketStatus,
  TicketStatusSchema,
} from "@ostmesh/proto/gen/osticket/ticket/v1/reference_pb.js";
import { phpTruthy } from "./domain/rows.ts";
import { stateOf } from "./mapping.ts";
import { isRecord, marks, num, parseJson, type Row, str, strOrNull } from "./rows.ts";

/** One consistent read of the reference tables. */
export interface ReferenceSnapshot {
  readonly statuses: ReadonlyMap<number, TicketStatus>;
  readonly priorities: ReadonlyMap<number, Priority>;
  readonly departments: ReadonlyMap<number, Department>;
  readonly topics: ReadonlyMap<number, HelpTopic>;
  readonly slas: ReadonlyMap<number, Sla>;
  readonly teams: ReadonlyMap<number, { readonly id: number; readonly name: string }>;
  /** `help_topic_sort_mode`: `a` alphabetical (default), `m` manual (`sort` column). */
  readonly topicSortMode: string;
  /** `verify_email_addrs`: addresses must have a mail domain (MX, else A/AAAA); on when not set. */
  readonly verifyEmailAddresses: boolean;
}

/** Topic flags (include/class.topic.php). */
const TOPIC_CUSTOM_NUMBERS = 0x1;
const TOPIC_ACTIVE = 0x2;
const TOPIC_ARCHIVED = 0x4;
/** Department flags (include/class.dept.php). */
const DEPT_ACTIVE = 0x04;
const DEPT_ARCHIVED = 0x08;
/** SLA flags (include/class.sla.php). */
const SLA_ACTIVE = 0x1;
const SLA_ESCALATE = 0x2;
const SLA_NOALERTS = 0x4;
const SLA_TRANSIENT = 0x8;
/** Status mode bits (include/class.list.php). */
const STATUS_ENABLED = 0x1;
const STATUS_INTERNAL = 0x2;

async function loadSnapshot(em: EntityManager): Promise<ReferenceSnapshot> {
  const [config, statuses, priorities, departments, topics, topicForms, slas, teams] = await Promise.all([
    query(
      em,
      "SELECT `key`, `value` FROM ost_config WHERE `namespace` = 'core' AND `key` IN" +
        " ('default_ticket_status_id', 'default_priority_id', 'default_sla_id', 'help_topic_sort_mode'," +
        " 'verify_email_addrs')",
    ),
    query(em, "SELECT id, name, state, mode, sort, properties FROM ost_ticket_status"),
    query(
      em,
      "SELECT priority_id, priority, priority_desc, priority_color, priority_urgency, ispublic FROM ost_ticket_priority",
    ),
    query(
      em,
      "SELECT id, pid, name, path, sla_id, manager_id, email_id, schedule_id, ispublic, flags FROM ost_department",
    ),
    query(
      em,
      "SELECT topic_id, topic_pid, topic, ispublic, flags, noautoresp, dept_id, priority_id, sla_id, status_id," +
        " staff_id, team_id, number_format, sort FROM ost_help_topic",
    ),
    query(em, "SELECT topic_id, form_id FROM ost_help_topic_form ORDER BY topic_id, sort, id"),
    query(em, "SELECT id, name, grace_period, schedule_id, flags FROM ost_sla"),
    query(em, "SELECT team_id, name FROM ost_team"),
  ]);
  const cfg = new Map(config.map((r) => [str(r, "key"), str(r, "value")]));
  // Config::getDefaultTicketStatusId: the configured id, else 1.
  const defaultStatus = Number(cfg.get("default_ticket_status_id")) || 1;
  const defaultPriority = Number(cfg.get("default_priority_id")) || 0;
  const defaultSla = Number(cfg.get("default_sla_id")) || 0;

  const statusMap = new Map<number, TicketStatus>();
  for (const r of statuses) {
    const props = parseJson(strOrNull(r, "properties"));
    const p = isRecord(props) ? props : {};
    const mode = num(r, "mode");
    const id = num(r, "id");
    statusMap.set(
      id,
      create(TicketStatusSchema, {
        id,
        name: str(r, "name"),
        state: stateOf(str(r, "state")),
        isEnabled: (mode & STATUS_ENABLED) !== 0,
        isInternal: (mode & STATUS_INTERNAL) !== 0,
        allowReopen: Boolean(p.allowreopen),
        reopenStatusId: Number(p.reopenstatus) || 0,
        description: typeof p.description === "string" ? p.description : "",
        sort: num(r, "sort"),
        isDefault: id === defaultStatus,
      }),
    );
  }

  const priorityMap = new Map<number, Priority>();
  for (const r of priorities) {
    const id = num(r, "priority_id");
    priorityMap.set(
      id,
      create(PrioritySchema, {
        id,
        key: str(r, "priority"),
        name: str(r, "priority_desc"),
        color: str(r, "priority_color"),
        urgency: num(r, "priority_urgency"),
        isPublic: num(r, "ispublic") !== 0,
        isDefault: id === defaultPriority,
      }),
    );
  }

  const deptNames = new Map(departments.map((r) => [num(r, "id"), str(r, "name")]));
  const departmentMap = new Map<number, Department>();
  for (const r of departments) {
    const id = num(r, "id");
    const path = str(r, "path");
    // Dept::getFullName: the names along the path, " / "-separated.
    const ancestry = path
      .split("/")
      .filter((s) => s !== "")
      .map((s) => deptNames.get(Number(s)))
      .filter((n): n is string => n !== undefined);
    const flags = num(r, "flags");
    departmentMap.set(
      id,
      create(DepartmentSchema, {
        id,
        parentId: num(r, "pid"),
        name: str(r, "name"),
        fullName: ancestry.length > 0 ? ancestry.join(" / ") : str(r, "name"),
        path,
        slaId: num(r, "sla_id"),
        managerId: num(r, "manager_id"),
        emailId: num(r, "email_id"),
        scheduleId: num(r, "schedule_id"),
        isPublic: num(r, "ispublic") !== 0,
        isActive: (flags & DEPT_ACTIVE) !== 0,
        isArchived: (flags & DEPT_ARCHIVED) !== 0,
        flags,
      }),
    );
  }

  const formsOfTopic = new Map<number, number[]>();
  for (const r of topicForms) {
    const list = formsOfTopic.get(num(r, "topic_id")) ?? [];
    list.push(num(r, "form_id"));
    formsOfTopic.set(num(r, "topic_id"), list);
  }
  const topicRows = new Map(topics.map((r) => [num(r, "topic_id"), r]));
  const topicMap = new Map<number, HelpTopic>();
  for (const [id, r] of topicRows) {
    const flags = num(r, "flags");
    topicMap.set(
      id,
      create(HelpTopicSchema, {
        id,
        parentId: num(r, "topic_pid"),
        name: str(r, "topic"),
        fullName: topicFullName(topicRows, id),
        isPublic: num(r, "ispublic") !== 0,
        isActive: (flags & TOPIC_ACTIVE) !== 0,
        isArchived: (flags & TOPIC_ARCHIVED) !== 0,
        noAutoResponse: num(r, "noautoresp") !== 0,
        deptId: num(r, "dept_id"),
        priorityId: num(r, "priority_id"),
        slaId: num(r, "sla_id"),
        statusId: num(r, "status_id"),
        staffId: num(r, "staff_id"),
        teamId: num(r, "team_id"),
        numberFormat: (flags & TOPIC_CUSTOM_NUMBERS) !== 0 ? str(r, "number_format") || "######" : "",
        formIds: formsOfTopic.get(id) ?? [],
        sort: num(r, "sort"),
      }),
    );
  }

  const slaMap = new Map<number, Sla>();
  for (const r of slas) {
    const id = num(r, "id");
    const flags = num(r, "flags");
    slaMap.set(
      id,
      create(SlaSchema, {
        id,
        name: str(r, "name"),
        gracePeriodHours: num(r, "grace_period"),
        scheduleId: num(r, "schedule_id"),
        isActive: (flags & SLA_ACTIVE) !== 0,
        escalate: (flags & SLA_ESCALATE) !== 0,
        noAlerts: (flags & SLA_NOALERTS) !== 0,
        transient: (flags & SLA_TRANSIENT) !== 0,
        isDefault: id === defaultSla,
      }),
    );
  }

  return {
    statuses: statusMap,
    priorities: priorityMap,
    departments: departmentMap,
    topics: topicMap,
    slas: slaMap,
    teams: new Map(teams.map((r) => [num(r, "team_id"), { id: num(r, "team_id"), name: str(r, "name") }])),
    topicSortMode: cfg.get("help_topic_sort_mode") || "a",
    verifyEmailAddresses: phpTruthy(cfg.get("verify_email_addrs") ?? "1"),
  };
}

/** Topic::getFullName: "Parent / Child" (loops in bad data are cut off). */
function topicFullName(rows: ReadonlyMap<number, Row>, id: number): string {
  const names: string[] = [];
  const seen = new Set<number>();
  let current: number = id;
  while (current && !seen.has(current) && names.length < 10) {
    seen.add(current);
    const row = rows.get(current);
    if (!row) break;
    names.unshift(str(row, "topic"));
    current = num(row, "topic_pid");
  }
  return names.join(" / ");
}

/** The reference snapshot, reloaded when older than `ttlMs` (one reload at a time). */
export class ReferenceCache {
  readonly #ttlMs: number;
  readonly #now: () => number;
  #current: { snapshot: ReferenceSnapshot; expires: number } | undefined;
  #loading: Promise<ReferenceSnapshot> | undefined;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 5_000;
    this.#now = options.now ?? Date.now;
  }

  async get(em: EntityManager): Promise<ReferenceSnapshot> {
    const current = this.#current;
    if (current && current.expires > this.#now()) return current.snapshot;
    this.#loading ??= loadSnapshot(em.fork())
      .then((snapshot) => {
        this.#current = { snapshot, expires: this.#now() + this.#ttlMs };
        return snapshot;
      })
      .finally(() => {
        this.#loading = undefined;
      });
    return this.#loading;
  }

  /** Forgets the snapshot (e.g. after a test edits reference rows). */
  invalidate(): void {
    this.#current = undefined;
  }
}

/** The status ids whose state is one of `states` (UNSPECIFIED matches nothing). */
export function statusIdsOfStates(ref: ReferenceSnapshot, states: readonly TicketState[]): number[] {
  const wanted = new Set(states);
  return [...ref.statuses.values()].filter((s) => wanted.has(s.state)).map((s) => s.id);
}

// ---- forms of a help topic (GetHelpTopicForm) ----

/** ost_form_field.flags bits (include/class.dynamic_forms.php). */
const FIELD_ENABLED = 0x00001;
const FIELD_EXT_STORED = 0x00002;
const FIELD_CLOSE_REQUIRED = 0x00004;
const FIELD_CLIENT_VIEW = 0x00100;
const FIELD_CLIENT_EDIT = 0x00200;
const FIELD_CLIENT_REQUIRED = 0x00400;
const FIELD_AGENT_REQUIRED = 0x04000;
/** ost_form.flags bit DELETED. */
const FORM_DELETED = 0x2;

/** Field types that carry no answer (section breaks, free text) are still shown; their kind says so. */
function choicesOf(
  type: string,
  configuration: JsonObject | undefined,
  priorities: Iterable<Priority>,
  listItems: ReadonlyMap<number, readonly FieldChoice[]>,
): FieldChoice[] {
  if (type === "priority")
    return [...priorities]
      .sort((a, b) => a.urgency - b.urgency || a.id - b.id)
      .map((p) => create(FieldChoiceSchema, { key: String(p.id), label: p.name }));
  const list = /^list-(\d+)$/.exec(type);
  if (list?.[1]) return [...(listItems.get(Number(list[1])) ?? [])];
  if (type === "choices") {
    // ChoiceField::parseChoices: one "key:Label" per line; a line without a colon is its own key.
    const text = typeof configuration?.choices === "string" ? configuration.choices : "";
    return text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== "")
      .map((line) => {
        const colon = line.indexOf(":");
        const key = colon === -1 ? line : line.slice(0, colon).trim();
        const label = colon === -1 ? line : line.slice(colon + 1).trim();
        return create(FieldChoiceSchema, { key, label });
      });
  }
  return [];
}

function toJsonValue(value: unknown): JsonValue | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (Array.isArray(value)) return value.map((v) => toJsonValue(v) ?? null);
  if (isRecord(value)) return toJsonObject(value);
  return undefined;
}

function toJsonObject(value: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    const json = toJsonValue(v);
    if (json !== undefined) out[k] = json;
  }
  return out;
}

export interface TopicFormsOptions {
  /** End users and anonymous callers: only fields they may see. */
  readonly endUserView: boolean;
}

/**
 * The forms a new ticket of a topic asks for, in osTicket's order: the contact form, the ticket form (with
 * the fields the topic disables left out), then the topic's other forms; disabled fields are left out.
 */
export async function topicForms(
  em: EntityManager,
  ref: ReferenceSnapshot,
  topicId: number,
  options: TopicFormsOptions,
): Promise<Form[]> {
  const [baseForms, topicFormRows] = await Promise.all([
    query(
      em,
      "SELECT id, type, title, instructions, flags FROM ost_form WHERE type IN ('U', 'T') ORDER BY title, id",
    ),
    topicId
      ? query(
          em,
          "SELECT htf.form_id, htf.extra, f.type, f.title, f.instructions, f.flags FROM ost_help_topic_form htf" +
            " JOIN ost_form f ON f.id = htf.form_id WHERE htf.topic_id = ? ORDER BY htf.sort, htf.id",
          [topicId],
        )
      : Promise.resolve([]),
  ]);
  // The form of a type as osTicket picks it: the first by title.
  const contact = baseForms.find((f) => str(f, "type") === "U");
  const ticket = baseForms.find((f) => str(f, "type") === "T");
  const disabledOf = (extra: string | null): Set<number> => {
    const parsed = parseJson(extra);
    const list = isRecord(parsed) && Array.isArray(parsed.disable) ? parsed.disable : [];
    return new Set(list.map((v) => Number(v)).filter((v) => Number.isInteger(v)));
  };
  const ordered: { row: Row; disabled: Set<number> }[] = [];
  if (contact) ordered.push({ row: contact, disabled: new Set() });
  const ticketOfTopic = topicFormRows.find((r) => str(r, "type") === "T");
  if (ticket)
    ordered.push({
      row: ticket,
      disabled: ticketOfTopic ? disabledOf(strOrNull(ticketOfTopic, "extra")) : new Set(),
    });
  for (const r of topicFormRows) {
    if (str(r, "type") === "T" || (num(r, "flags") & FORM_DELETED) !== 0) continue;
    ordered.push({ row: { ...r, id: r.form_id }, disabled: disabledOf(strOrNull(r, "extra")) });
  }
  const formIds = ordered.map((o) => num(o.row, "id"));
  const fields = formIds.length
    ? await query(
        em,
        `SELECT id, form_id, flags, type, label, name, configuration, sort, hint FROM ost_form_field WHERE form_id IN (${marks(formIds.length)}) ORDER BY sort, id`,
        formIds,
      )
    : [];
  const listIds = [
    ...new Set(
      fields
        .map((f) => /^list-(\d+)$/.exec(str(f, "type"))?.[1])
        .filter((v): v is string => v !== undefined)
        .map(Number),
    ),
  ];
  const listItems = new Map<number, FieldChoice[]>();
  if (listIds.length) {
    const items = await query(
      em,
      `SELECT id, list_id, value FROM ost_list_items WHERE list_id IN (${marks(listIds.length)}) AND (status & 1) <> 0 ORDER BY sort, id`,
      listIds,
    );
    for (const item of items) {
      const list = listItems.get(num(item, "list_id")) ?? [];
      list.push(create(FieldChoiceSchema, { key: String(num(item, "id")), label: str(item, "value") }));
      listItems.set(num(item, "list_id"), list);
    }
  }
  return ordered.map(({ row, disabled }) => {
    const formId = num(row, "id");
    const formFields: FormField[] = fields
      .filter((f) => num(f, "form_id") === formId)
      .filter((f) => (num(f, "flags") & FIELD_ENABLED) !== 0 && !disabled.has(num(f, "id")))
      .filter((f) => !options.endUserView || (num(f, "flags") & FIELD_CLIENT_VIEW) !== 0)
      .map((f) => {
        const flags = num(f, "flags");
        const parsed = parseJson(strOrNull(f, "configuration"));
        const configuration = isRecord(parsed) ? toJsonObject(parsed) : undefined;
        return create(FormFieldSchema, {
          id: num(f, "id"),
          name: str(f, "name"),
          label: str(f, "label"),
          type: str(f, "type"),
          hint: str(f, "hint"),
          requiredForEndUser: (flags & FIELD_CLIENT_REQUIRED) !== 0,
          requiredForAgent: (flags & FIELD_AGENT_REQUIRED) !== 0,
          requiredToClose: (flags & FIELD_CLOSE_REQUIRED) !== 0,
          visibleToEndUser: (flags & FIELD_CLIENT_VIEW) !== 0,
          editableByEndUser: (flags & FIELD_CLIENT_EDIT) !== 0,
          externallyStored: (flags & FIELD_EXT_STORED) !== 0,
          flags,
          sort: num(f, "sort"),
          choices: choicesOf(str(f, "type"), configuration, ref.priorities.values(), listItems),
          configuration,
        });
      });
    return create(FormSchema, {
      id: formId,
      type: str(row, "type"),
      title: str(row, "title"),
      instructions: str(row, "instructions"),
      fields: formFields,
    });
  });
}
