import { int, isRecord, json, str, strOrNull } from "../rows.ts";
import type { BatchRead, Row, Sql } from "../sql.ts";
import type { HelpdeskConfig } from "./config.ts";
import type { MetadataCache } from "./forms.ts";

export interface TicketStatus {
  readonly id: number;
  readonly name: string;
  /** open | closed | archived | deleted */
  readonly state: string;
  readonly mode: number;
  /**
   * TicketStatus::isReopenable: any non-closed state; a closed state only with `allowreopen` set and a
   * `reopenstatus` property present.
   */
  readonly reopenable: boolean;
  /** `reopenstatus` property (0 = the default status), null when absent. */
  readonly reopenStatusId: number | null;
}

export interface Priority {
  readonly id: number;
  /** Key, e.g. `normal`. */
  readonly priority: string;
  /** Label, e.g. `Normal` (what the form value stores). */
  readonly desc: string;
  readonly urgency: number;
}

/** `ost_department.flags` bits (include/class.dept.php L73-78). */
export const DeptFlag = {
  ASSIGN_MEMBERS_ONLY: 0x01,
  DISABLE_AUTO_CLAIM: 0x02,
  ACTIVE: 0x04,
  ARCHIVED: 0x08,
  ASSIGN_PRIMARY_ONLY: 0x10,
  DISABLE_REOPEN_AUTO_ASSIGN: 0x20,
} as const;

export interface Department {
  readonly id: number;
  readonly name: string;
  readonly slaId: number;
  readonly scheduleId: number;
  readonly managerId: number;
  readonly flags: number;
}

/** `ost_help_topic.flags` bits (include/class.topic.php L69-71). */
export const TopicFlag = { CUSTOM_NUMBERS: 0x1, ACTIVE: 0x2, ARCHIVED: 0x4 } as const;

export interface Topic {
  readonly id: number;
  readonly pid: number;
  readonly name: string;
  readonly flags: number;
  readonly statusId: number;
  readonly priorityId: number;
  readonly deptId: number;
  readonly staffId: number;
  readonly teamId: number;
  readonly slaId: number;
  readonly sequenceId: number;
  readonly numberFormat: string | null;
  readonly noAutoResponse: boolean;
}

export interface TopicForm {
  readonly formId: number;
  readonly formType: string;
  /** Field ids the topic disables (`extra.disable`). */
  readonly disabledFieldIds: readonly number[];
}

/** `ost_sla.flags` bits (include/class.sla.php L26-29). */
export const SlaFlag = { ACTIVE: 0x1, ESCALATE: 0x2, NOALERTS: 0x4, TRANSIENT: 0x8 } as const;

export interface Sla {
  readonly id: number;
  readonly name: string;
  readonly flags: number;
  readonly gracePeriod: number;
  readonly scheduleId: number;
}

export interface Staff {
  readonly id: number;
  readonly username: string;
  readonly firstname: string;
  readonly lastname: string;
  readonly email: string;
  readonly deptId: number;
  readonly isActive: boolean;
  readonly isAdmin: boolean;
  readonly onVacation: boolean;
  /** assigned_only: the agent sees only tickets assigned to them (access-limited). */
  readonly assignedOnly: boolean;
  readonly timezone: string | null;
}

export interface Team {
  readonly id: number;
  readonly name: string;
  readonly flags: number;
}

export interface SystemEmail {
  readonly id: number;
  readonly deptId: number;
  readonly priorityId: number;
  readonly topicId: number;
  readonly noAutoResponse: boolean;
}

/** An agent's display name as osTicket prints it (agent_name_format, default "First Last"). */
export function staffDisplayName(staff: Staff, format = "full"): string {
  const first = staff.firstname;
  const last = staff.lastname;
  switch (format) {
    case "first":
      return first;
    case "last":
      return last;
    case "lastfirst":
      return `${last}, ${first}`.replace(/^[, ]+|[, ]+$/g, "");
    case "short":
      return `${first} ${last ? `${Array.from(last)[0]}.` : ""}`;
    case "shortformal":
      return `${first ? `${Array.from(first)[0]}.` : ""} ${last}`;
    case "original":
      return [first, last].join(" ");
    default:
      return `${first} ${last}`.trim();
  }
}

/** Memoised loads of one kind of row, by key. */
class Memo<K, V> {
  readonly #values = new Map<K, Promise<V>>();
  has(key: K): boolean {
    return this.#values.has(key);
  }
  set(key: K, value: V): void {
    this.#values.set(key, Promise.resolve(value));
  }
  get(key: K, load: () => Promise<V>): Promise<V> {
    let hit = this.#values.get(key);
    if (!hit) {
      hit = load();
      this.#values.set(key, hit);
    }
    return hit;
  }
}

/**
 * Reference data for one use case. Every lookup is memoised for the use case only: these tables are
 * admin-editable and must not be cached across requests.
 */
export class Lookups {
  readonly #tx: Sql;
  readonly config: HelpdeskConfig;
  readonly #metadata: MetadataCache;
  readonly #statuses = new Memo<number, TicketStatus | undefined>();
  readonly #priorities = new Memo<"all", readonly Priority[]>();
  readonly #depts = new Memo<number, Department | undefined>();
  readonly #topics = new Memo<number, Topic | undefined>();
  readonly #topicForms = new Memo<number, readonly TopicForm[]>();
  readonly #slas = new Memo<number, Sla | undefined>();
  readonly #staff = new Memo<number, Staff | undefined>();
  readonly #members = new Memo<string, boolean>();
  readonly #staffDepts = new Memo<number, ReadonlySet<number>>();
  readonly #teams = new Memo<number, Team | undefined>();
  readonly #emails = new Memo<number, SystemEmail | undefined>();

  constructor(tx: Sql, config: HelpdeskConfig, metadata: MetadataCache) {
    this.#tx = tx;
    this.config = config;
    this.#metadata = metadata;
  }

  /** Admin-edited metadata shared across requests for the metadata cache's short TTL (MetadataCache.shared). */
  shared<T>(key: string, load: () => Promise<T>): Promise<T> {
    return this.#metadata.shared(key, load);
  }

  /**
   * Loads several reference rows in one round trip (the priorities, and statuses, departments, SLAs and
   * topics by id) into this use case's memo; later lookups of them cost nothing. `also`'s statements go in
   * the same round trip, and what it reads from them is returned.
   */
  async prefetch<T>(
    ids: {
      statuses?: number[];
      depts?: number[];
      slas?: number[];
      topics?: number[];
      /** false: not the priorities (read unless this use case has them already). */
      priorities?: boolean;
    },
    also: BatchRead<T>,
  ): Promise<T> {
    const parts: string[] = [];
    const params: number[] = [];
    const wanted = <V>(memo: Memo<number, V>, list: number[] | undefined) =>
      [...new Set(list ?? [])].filter((id) => id > 0 && !memo.has(id));
    const add = (ids: number[], sql: (marks: string) => string) => {
      if (!ids.length) return;
      parts.push(sql(ids.map(() => "?").join(", ")));
      params.push(...ids);
    };
    const withPriorities = ids.priorities !== false && !this.#priorities.has("all");
    if (withPriorities) {
      parts.push(
        "SELECT 'priorities' AS kind, priority_id AS id, JSON_OBJECT('priority_id', priority_id, 'priority', priority," +
          " 'priority_desc', priority_desc, 'priority_urgency', priority_urgency) AS doc FROM ost_ticket_priority",
      );
    }
    const statuses = wanted(this.#statuses, ids.statuses);
    const depts = wanted(this.#depts, ids.depts);
    const slas = wanted(this.#slas, ids.slas);
    const topics = wanted(this.#topics, ids.topics);
    add(
      statuses,
      (m) =>
        "SELECT 'status', id, JSON_OBJECT('id', id, 'name', name, 'state', state, 'mode', mode, 'properties', properties)" +
        ` FROM ost_ticket_status WHERE id IN (${m})`,
    );
    add(
      depts,
      (m) =>
        "SELECT 'dept', id, JSON_OBJECT('id', id, 'name', name, 'sla_id', sla_id, 'schedule_id', schedule_id," +
        ` 'manager_id', manager_id, 'flags', flags) FROM ost_department WHERE id IN (${m})`,
    );
    add(
      slas,
      (m) =>
        "SELECT 'sla', id, JSON_OBJECT('id', id, 'name', name, 'flags', flags, 'grace_period', grace_period," +
        ` 'schedule_id', schedule_id) FROM ost_sla WHERE id IN (${m})`,
    );
    add(
      topics,
      (m) =>
        "SELECT 'topic', topic_id, JSON_OBJECT('topic_id', topic_id, 'topic_pid', topic_pid, 'topic', topic, 'flags', flags," +
        " 'status_id', status_id, 'priority_id', priority_id, 'dept_id', dept_id, 'staff_id', staff_id, 'team_id', team_id," +
        " 'sla_id', sla_id, 'sequence_id', sequence_id, 'number_format', number_format, 'noautoresp', noautoresp)" +
        ` FROM ost_help_topic WHERE topic_id IN (${m})`,
    );
    const own = parts.length ? [{ sql: parts.join(" UNION ALL "), params }] : [];
    const extra = also.statements;
    if (!own.length && !extra.length) return also.read([]);
    const results = await this.#tx.batch([...own, ...extra]);
    const rows = own.length ? (results[0] ?? []) : [];
    const docs = new Map<string, Row>();
    const priorities: Priority[] = [];
    for (const row of rows) {
      const doc = json(str(row, "doc"));
      if (!isRecord(doc)) continue;
      const kind = str(row, "kind");
      if (kind === "priorities") priorities.push(toPriority(doc));
      else docs.set(`${kind}:${int(row, "id")}`, doc);
    }
    const fill = <V>(
      memo: Memo<number, V | undefined>,
      kind: string,
      list: number[],
      convert: (r: Row) => V,
    ) => {
      for (const id of list) {
        const doc = docs.get(`${kind}:${id}`);
        memo.set(id, doc ? convert(doc) : undefined);
      }
    };
    if (withPriorities)
      this.#priorities.set(
        "all",
        priorities.sort((a, b) => b.urgency - a.urgency),
      );
    fill(this.#statuses, "status", statuses, toStatus);
    fill(this.#depts, "dept", depts, toDepartment);
    fill(this.#slas, "sla", slas, toSla);
    fill(this.#topics, "topic", topics, toTopic);
    return also.read(results.slice(own.length));
  }

  status(id: number): Promise<TicketStatus | undefined> {
    return this.#statuses.get(id, async () => {
      const row = await this.#tx.first(
        "SELECT id, name, state, mode, properties FROM ost_ticket_status WHERE id = ?",
        [id],
      );
      return row ? toStatus(row) : undefined;
    });
  }

  priorities(): Promise<readonly Priority[]> {
    return this.#priorities.get("all", async () => {
      const rows = await this.#tx.all(
        "SELECT priority_id, priority, priority_desc, priority_urgency FROM ost_ticket_priority ORDER BY priority_urgency DESC",
      );
      return rows.map(toPriority);
    });
  }

  async priority(id: number): Promise<Priority | undefined> {
    return (await this.priorities()).find((p) => p.id === id);
  }

  department(id: number): Promise<Department | undefined> {
    return this.#depts.get(id, async () => {
      const row = await this.#tx.first(
        "SELECT id, name, sla_id, schedule_id, manager_id, flags FROM ost_department WHERE id = ?",
        [id],
      );
      return row ? toDepartment(row) : undefined;
    });
  }

  topic(id: number): Promise<Topic | undefined> {
    return this.#topics.get(id, async () => {
      const row = await this.#tx.first(
        "SELECT topic_id, topic_pid, topic, flags, status_id, priority_id, dept_id, staff_id, team_id, sla_id," +
          " sequence_id, number_format, noautoresp FROM ost_help_topic WHERE topic_id = ?",
        [id],
      );
      return row ? toTopic(row) : undefined;
    });
  }

  /** "Parent / Child" (Topic::getFullName). */
  async topicFullName(topic: Topic): Promise<string> {
    const names = [topic.name];
    let pid = topic.pid;
    for (let depth = 0; pid && depth < 10; depth++) {
      const parent = await this.topic(pid);
      if (!parent) break;
      names.unshift(parent.name);
      pid = parent.pid;
    }
    return names.join(" / ");
  }

  topicForms(topicId: number): Promise<readonly TopicForm[]> {
    return this.#topicForms.get(topicId, async () => {
      const rows = await this.#tx.all(
        "SELECT htf.form_id, htf.extra, f.type FROM ost_help_topic_form htf" +
          " JOIN ost_form f ON f.id = htf.form_id WHERE htf.topic_id = ? ORDER BY htf.sort, htf.id",
        [topicId],
      );
      return rows.map((r) => {
        const extra = json(strOrNull(r, "extra"));
        const disable = isRecord(extra) && Array.isArray(extra.disable) ? extra.disable : [];
        return {
          formId: int(r, "form_id"),
          formType: str(r, "type"),
          disabledFieldIds: disable.map((v) => Number(v)).filter((v) => Number.isInteger(v)),
        };
      });
    });
  }

  sla(id: number): Promise<Sla | undefined> {
    return this.#slas.get(id, async () => {
      const row = await this.#tx.first(
        "SELECT id, name, flags, grace_period, schedule_id FROM ost_sla WHERE id = ?",
        [id],
      );
      return row ? toSla(row) : undefined;
    });
  }

  staff(id: number): Promise<Staff | undefined> {
    return this.#staff.get(id, async () => {
      const statement = staffStatement(id);
      const row = await this.#tx.first(statement.sql, statement.params);
      return row ? toStaff(row) : undefined;
    });
  }

  /** Keeps the row staffStatement(id) read (none: no such agent), so staff(id) costs nothing. */
  rememberStaff(id: number, row: Row | undefined): void {
    this.#staff.set(id, row ? toStaff(row) : undefined);
  }

  /** Keeps a status row as status(id) would read it (none: no such status), so status(id) costs nothing. */
  rememberStatus(id: number, row: Row | undefined): void {
    this.#statuses.set(id, row ? toStatus(row) : undefined);
  }

  /**
   * Dept::isMember (Dept::getMembers): the department is the agent's primary one, the agent manages it, or
   * the agent has an access row for it. Sub-departments do not count. What assignment to a members-only
   * department (Dept::canAssign) and keeping the assignee on a transfer ask.
   */
  async isDeptMember(staff: Staff, dept: Department): Promise<boolean> {
    if (staff.deptId === dept.id || (dept.managerId !== 0 && dept.managerId === staff.id)) return true;
    return this.#members.get(`${staff.id}:${dept.id}`, async () => {
      const row = await this.#tx.first(
        "SELECT 1 AS yes FROM ost_staff_dept_access WHERE staff_id = ? AND dept_id = ? LIMIT 1",
        [staff.id, dept.id],
      );
      return row !== undefined;
    });
  }

  /**
   * Staff::canAccessDept: an agent not limited to their own assignments, for whom the department is one of
   * Staff::getDepartments: the primary department and the access rows' departments with their
   * sub-departments (by `path`), and the departments the agent manages. What auto-assignment on reopen asks.
   */
  async canAccessDept(staff: Staff, deptId: number): Promise<boolean> {
    if (staff.assignedOnly) return false;
    const ids = await this.#staffDepts.get(staff.id, async () => {
      const rows = await this.#tx.all(
        "SELECT DISTINCT d.id FROM ost_staff s LEFT JOIN ost_staff_dept_access a ON a.staff_id = s.staff_id" +
          " JOIN ost_department d ON (LOCATE(CONCAT('/', s.dept_id, '/'), d.path) > 0 OR d.manager_id = s.staff_id" +
          " OR LOCATE(CONCAT('/', a.dept_id, '/'), d.path) > 0) WHERE s.staff_id = ?",
        [staff.id],
      );
      return new Set(rows.map((r) => int(r, "id")));
    });
    return ids.has(deptId);
  }

  team(id: number): Promise<Team | undefined> {
    return this.#teams.get(id, async () => {
      const row = await this.#tx.first("SELECT team_id, name, flags FROM ost_team WHERE team_id = ?", [id]);
      return row ? { id: int(row, "team_id"), name: str(row, "name"), flags: int(row, "flags") } : undefined;
    });
  }

  systemEmail(id: number): Promise<SystemEmail | undefined> {
    return this.#emails.get(id, async () => {
      const row = await this.#tx.first(
        "SELECT email_id, dept_id, priority_id, topic_id, noautoresp FROM ost_email WHERE email_id = ?",
        [id],
      );
      return row
        ? {
            id: int(row, "email_id"),
            deptId: int(row, "dept_id"),
            priorityId: int(row, "priority_id"),
            topicId: int(row, "topic_id"),
            noAutoResponse: int(row, "noautoresp") !== 0,
          }
        : undefined;
    });
  }

  /** `ost_event` ids by name (never hard-coded: they are install data). */
  async eventId(name: string): Promise<number> {
    const events = await this.#metadata.eventIds(this.#tx);
    const id = events.get(name);
    if (id === undefined) throw new Error(`ost_event has no '${name}' event`);
    return id;
  }
}

function toPriority(r: Row): Priority {
  return {
    id: int(r, "priority_id"),
    priority: str(r, "priority"),
    desc: str(r, "priority_desc"),
    urgency: int(r, "priority_urgency"),
  };
}

function toDepartment(row: Row): Department {
  return {
    id: int(row, "id"),
    name: str(row, "name"),
    slaId: int(row, "sla_id"),
    scheduleId: int(row, "schedule_id"),
    managerId: int(row, "manager_id"),
    flags: int(row, "flags"),
  };
}

function toTopic(row: Row): Topic {
  return {
    id: int(row, "topic_id"),
    pid: int(row, "topic_pid"),
    name: str(row, "topic"),
    flags: int(row, "flags"),
    statusId: int(row, "status_id"),
    priorityId: int(row, "priority_id"),
    deptId: int(row, "dept_id"),
    staffId: int(row, "staff_id"),
    teamId: int(row, "team_id"),
    slaId: int(row, "sla_id"),
    sequenceId: int(row, "sequence_id"),
    numberFormat: strOrNull(row, "number_format"),
    noAutoResponse: int(row, "noautoresp") !== 0,
  };
}

function toSla(row: Row): Sla {
  return {
    id: int(row, "id"),
    name: str(row, "name"),
    flags: int(row, "flags"),
    gracePeriod: int(row, "grace_period"),
    scheduleId: int(row, "schedule_id"),
  };
}

/** What Lookups.staff reads, for a round trip shared with other reads (then Lookups.rememberStaff). */
export function staffStatement(id: number): { sql: string; params: number[] } {
  return {
    sql:
      "SELECT staff_id, username, firstname, lastname, email, dept_id, isactive, isadmin, onvacation, assigned_only," +
      " timezone FROM ost_staff WHERE staff_id = ?",
    params: [id],
  };
}

function toStaff(row: Row): Staff {
  return {
    id: int(row, "staff_id"),
    username: str(row, "username"),
    firstname: str(row, "firstname"),
    lastname: str(row, "lastname"),
    email: str(row, "email"),
    deptId: int(row, "dept_id"),
    isActive: int(row, "isactive") !== 0,
    isAdmin: int(row, "isadmin") !== 0,
    onVacation: int(row, "onvacation") !== 0,
    assignedOnly: int(row, "assigned_only") !== 0,
    timezone: strOrNull(row, "timezone"),
  };
}

function toStatus(row: Row): TicketStatus {
  const props = json(strOrNull(row, "properties"));
  const p = isRecord(props) ? props : {};
  const state = str(row, "state");
  const hasReopenStatus = p.reopenstatus !== undefined && p.reopenstatus !== null;
  return {
    id: int(row, "id"),
    name: str(row, "name"),
    state,
    mode: int(row, "mode"),
    reopenable: state.toLowerCase() !== "closed" || (Boolean(p.allowreopen) && hasReopenStatus),
    reopenStatusId: hasReopenStatus ? Number(p.reopenstatus) || 0 : null,
  };
}
