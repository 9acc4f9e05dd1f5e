/**
 * osTicket's ticket filters (Admin Panel → Manage → Ticket Filters) as Ticket::create runs them: the
 * active filters of the ticket's channel, matched against the new ticket's data, their actions changing
 * what the ticket is created with, and one `edited` thread event per described action afterwards
 * (include/class.filter.php, include/class.filter_action.php, Ticket::filterTicketData).
 */

import { phpTruthyString } from "@ostmesh/kit/osticket/html/format.ts";
import { pregMatch } from "@ostmesh/kit/osticket/html/pcre.ts";
import type { Lookups } from "../reference/lookups.ts";
import { int, isRecord, json, phpInt, str } from "../rows.ts";
import type { BatchRead } from "../sql.ts";

/** ost_filter.target a ticket's origin is filtered as (TicketFilter::origin2target). */
export type FilterTarget = "Web" | "Email" | "API";

export function filterTarget(origin: string): FilterTarget | undefined {
  switch (origin.toLowerCase()) {
    case "web":
    case "phone":
    case "staff":
      return "Web";
    case "email":
      return "Email";
    case "api":
      return "API";
    default:
      return undefined;
  }
}

export interface FilterRule {
  /** The data it looks at: `name`, `email`, `body`, `topicId`, `field.<id>`... */
  readonly what: string;
  readonly how: string;
  readonly val: string;
}

export interface FilterAction {
  /** reject, replyto, noresp, canned, dept, pri, sla, team, agent, topic, status, email */
  readonly type: string;
  readonly config: Readonly<Record<string, unknown>>;
}

export interface TicketFilter {
  readonly id: number;
  readonly name: string;
  readonly target: string;
  readonly emailId: number;
  readonly matchAllRules: boolean;
  readonly stopOnMatch: boolean;
  /** Every rule of the filter in id order: osTicket evaluates inactive rules too (Filter::getRules). */
  readonly rules: readonly FilterRule[];
  /** In `sort` order. */
  readonly actions: readonly FilterAction[];
}

/** The data a ticket is filtered on, by rule `what` (absent = PHP's null: an empty string to every test). */
export type FilterVars = Readonly<Record<string, string | undefined>>;

/**
 * Whether any rule of the filters looks at data `what` names for which `wanted` holds: data that costs a
 * read is only gathered when a rule asks for it.
 */
export function rulesLookAt(filters: readonly TicketFilter[], wanted: (what: string) => boolean): boolean {
  return filters.some((f) => f.rules.some((r) => wanted(r.what)));
}

/** The `<id>` of a `field.<id>` or `field.<id>.<sub>` rule subject, 0 for any other subject. */
export function ruleFieldId(what: string): number {
  const match = /^field\.(\d+)(?:\.|$)/.exec(what);
  return match ? Number(match[1]) : 0;
}

/** strcasecmp's equality (PHP 8: ASCII-only case folding). */
function sameIgnoringAsciiCase(a: string, b: string): boolean {
  return asciiLower(a) === asciiLower(b);
}

/**
 * The active filters for a channel (TicketFilter::getAllActive: target Any or the channel's, limited to
 * the system mailbox's own and mailbox-less filters when a mailbox is given, in execution order) with
 * their rules and actions, as statements for one round trip.
 */
export function activeFiltersRead(
  target: FilterTarget | undefined,
  emailId: number,
): BatchRead<TicketFilter[]> {
  const where = `f.isactive = 1 AND f.target IN ('Any', ?)${emailId ? " AND f.email_id IN (0, ?)" : ""}`;
  const params = emailId ? [target ?? "", emailId] : [target ?? ""];
  return {
    statements: [
      {
        sql:
          "SELECT f.id, f.name, f.target, f.email_id, f.match_all_rules, f.stop_onmatch FROM ost_filter f" +
          ` WHERE ${where} ORDER BY f.execorder, f.id`,
        params,
      },
      {
        sql: `SELECT r.filter_id, r.what, r.how, r.val FROM ost_filter_rule r JOIN ost_filter f ON f.id = r.filter_id WHERE ${where} ORDER BY r.id`,
        params,
      },
      {
        sql: `SELECT a.filter_id, a.type, a.configuration FROM ost_filter_action a JOIN ost_filter f ON f.id = a.filter_id WHERE ${where} ORDER BY a.sort, a.id`,
        params,
      },
    ],
    read: ([filters = [], rules = [], actions = []]) =>
      filters.map((f) => {
        const id = int(f, "id");
        return {
          id,
          name: str(f, "name"),
          target: str(f, "target"),
          emailId: int(f, "email_id"),
          matchAllRules: int(f, "match_all_rules") !== 0,
          stopOnMatch: int(f, "stop_onmatch") !== 0,
          rules: rules
            .filter((r) => int(r, "filter_id") === id)
            .map((r) => ({ what: str(r, "what"), how: str(r, "how"), val: str(r, "val") })),
          actions: actions
            .filter((a) => int(a, "filter_id") === id)
            .map((a) => {
              const config = json(str(a, "configuration"));
              return { type: str(a, "type"), config: isRecord(config) ? config : {} };
            }),
        };
      }),
  };
}

/** PHP 8's ASCII-only case folding (strcasecmp, stripos). */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/**
 * One rule's test (Filter::matches' table): equal / not_equal by strcasecmp, contains / dn_contain /
 * starts by stripos (an empty needle is found at 0), ends by iendsWith (the needle's length in
 * characters), match / not_match by preg_match with the stored pattern — `not_match` holds whenever
 * preg_match does not answer 1, a pattern it refuses included. Unknown tests are undefined (skipped).
 */
export function ruleHolds(how: string, subject: string, value: string): boolean | undefined {
  switch (how) {
    case "equal":
      return asciiLower(subject) === asciiLower(value);
    case "not_equal":
      return asciiLower(subject) !== asciiLower(value);
    case "contains":
      return asciiLower(subject).includes(asciiLower(value));
    case "dn_contain":
      return !asciiLower(subject).includes(asciiLower(value));
    case "starts":
      return asciiLower(subject).startsWith(asciiLower(value));
    case "ends": {
      const needle = Array.from(value);
      if (needle.length === 0) return true;
      return asciiLower(Array.from(subject).slice(-needle.length).join("")) === asciiLower(value);
    }
    case "match":
      return pregMatch(value, subject) === 1;
    case "not_match":
      return pregMatch(value, subject) !== 1;
    default:
      return undefined;
  }
}

/** Filter::matches: all rules (match_all_rules) or any rule; a mailbox filter only for its own mailbox. */
export function filterMatches(filter: TicketFilter, vars: FilterVars): boolean {
  if (
    filter.emailId &&
    filter.target.toLowerCase() === "email" &&
    (vars.emailId === undefined || phpInt(vars.emailId) !== filter.emailId)
  )
    return false;
  let match = false;
  for (const rule of filter.rules) {
    const holds = ruleHolds(rule.how, vars[rule.what] ?? "", rule.val);
    if (holds === undefined) continue;
    if (holds) {
      match = true;
      if (!filter.matchAllRules) break;
    } else if (filter.matchAllRules) {
      match = false;
      break;
    }
  }
  return match;
}

/** TicketFilter::getMatchingFilterList: every matching filter, in execution order. */
export function matchingFilters(filters: readonly TicketFilter[], vars: FilterVars): TicketFilter[] {
  return filters.filter((f) => filterMatches(f, vars));
}

/** The matching filters whose actions run: up to and including the first that stops on match. */
function applied(matching: readonly TicketFilter[]): TicketFilter[] {
  const stop = matching.findIndex((f) => f.stopOnMatch);
  return stop === -1 ? [...matching] : matching.slice(0, stop + 1);
}

/** PHP truthiness of a decoded configuration value. */
function truthy(value: unknown): boolean {
  if (typeof value === "string") return value !== "" && value !== "0";
  if (Array.isArray(value)) return value.length > 0;
  return Boolean(value);
}

function configId(action: FilterAction, key: string): number {
  const value = action.config[key];
  if (!truthy(value)) return 0;
  return typeof value === "number" ? Math.trunc(value) : phpInt(String(value));
}

/** What the filters change on the ticket to be created (the `$vars` they overwrite). */
export interface FilterOverrides {
  /** The first filter whose `reject` action ran: the ticket is refused. */
  readonly rejectedBy?: TicketFilter;
  readonly deptId?: number;
  readonly priorityId?: number;
  readonly slaId?: number;
  readonly teamId?: number;
  readonly staffId?: number;
  readonly topicId?: number;
  readonly statusId?: number;
  /** `noresp`: no auto-response. */
  readonly autorespond?: false;
  /** `canned` (FA_AutoCannedResponse): the canned response to post as the first response. */
  readonly cannedResponseId?: number;
  /**
   * `replyto` (FA_UseReplyTo): the ticket is to be opened for the mail's Reply-To address instead (and its
   * name, when it has one); the filters then run again on that requester (FilterDataChanged). The
   * actions that ran before it keep their effect, as they stay in osTicket's `$vars`.
   */
  readonly replyTo?: { readonly email: string; readonly name: string | undefined };
}

const DEPT_ACTIVE = 0x04;
const TOPIC_ACTIVE = 0x02;

/**
 * The pre-create pass (TicketFilter::apply) over the data the filters matched (`vars`): each applied
 * filter's actions in order, a later value overwriting an earlier one (starting from `carried`, what an
 * earlier pass set); a department or help topic only when it is active. A `reject` stops everything there,
 * and so does a `replyto` that changes the requester. `email` actions belong to the post-create pass
 * (filterEmails).
 */
export async function applyFilterActions(
  matching: readonly TicketFilter[],
  lookups: Lookups,
  vars: FilterVars,
  carried: FilterOverrides = {},
): Promise<FilterOverrides> {
  const result: { -readonly [K in keyof FilterOverrides]: FilterOverrides[K] } = { ...carried };
  for (const filter of applied(matching)) {
    for (const action of filter.actions) {
      switch (action.type) {
        case "reject":
          return { rejectedBy: filter };
        case "replyto": {
          // FA_UseReplyTo: only a Reply-To that is not the requester's address (strcasecmp) changes anything.
          const replyTo = vars["reply-to"] ?? "";
          const email = vars.email ?? "";
          if (!phpTruthyString(replyTo) || !phpTruthyString(email) || sameIgnoringAsciiCase(replyTo, email))
            break;
          const name = vars["reply-to-name"];
          return {
            ...result,
            replyTo: { email: replyTo, name: name && phpTruthyString(name) ? name : undefined },
          };
        }
        case "noresp":
          result.autorespond = false;
          break;
        case "canned":
          if (configId(action, "canned_id")) result.cannedResponseId = configId(action, "canned_id");
          break;
        case "dept": {
          const id = configId(action, "dept_id");
          const dept = id ? await lookups.department(id) : undefined;
          if (dept && (dept.flags & DEPT_ACTIVE) !== 0) result.deptId = id;
          break;
        }
        case "topic": {
          const id = configId(action, "topic_id");
          const topic = id ? await lookups.topic(id) : undefined;
          if (topic && (topic.flags & TOPIC_ACTIVE) !== 0) result.topicId = id;
          break;
        }
        case "pri":
          if (configId(action, "priority")) result.priorityId = configId(action, "priority");
          break;
        case "sla":
          if (configId(action, "sla_id")) result.slaId = configId(action, "sla_id");
          break;
        case "team":
          if (configId(action, "team_id")) result.teamId = configId(action, "team_id");
          break;
        case "agent":
          if (configId(action, "staff_id")) result.staffId = configId(action, "staff_id");
          break;
        case "status":
          if (configId(action, "status_id")) result.statusId = configId(action, "status_id");
          break;
      }
    }
  }
  return result;
}

/** One "Send an Email" action (FA_SendEmail) of an applied filter, as configured. */
export interface FilterEmailAction {
  readonly filterId: number;
  readonly filterName: string;
  /** The address list, `%{user}` replaced by the requester. */
  readonly recipients: string;
  readonly subject: string;
  readonly message: string;
  /** The "From Email" (ost_email id), 0 when unset. */
  readonly fromEmailId: number;
}

/**
 * The post-create pass's `email` actions (TicketFilter::apply with the new ticket runs those alone): each
 * applied filter's, in order. `%{user}` (and any `%{user.…}`) in the recipients is the requester as
 * `"<name>" <<address>>` (`owner`: the stored user's name and address the pass matched on); other variables
 * there are left as written, as VariableReplacer leaves variables it does not know.
 */
export function filterEmails(
  matching: readonly TicketFilter[],
  owner: { readonly name: string; readonly email: string },
): FilterEmailAction[] {
  const user = `"${owner.name}" <${owner.email}>`;
  const text = (value: unknown) => (typeof value === "string" ? value : "");
  const emails: FilterEmailAction[] = [];
  for (const filter of applied(matching)) {
    for (const action of filter.actions) {
      if (action.type !== "email") continue;
      emails.push({
        filterId: filter.id,
        filterName: filter.name,
        recipients: text(action.config.recipients).replace(
          /(?:%\{|%%7B)(user(?:\.[\w.]*)?)(?:\}|%7D)/g,
          () => user,
        ),
        subject: text(action.config.subject),
        message: text(action.config.message),
        fromEmailId: configId(action, "from"),
      });
    }
  }
  return emails;
}

/** The data of an `edited` event a filter action logs (getEventDescription): `value` false when not found. */
export interface FilterEventData {
  readonly value: string | false;
  readonly filter: string;
  readonly type: string;
}

/**
 * The post-create pass's events (Ticket::filterTicketData with the new ticket): for each applied filter,
 * each action that describes itself, whether or not it changed anything. The Ticket Status action looks
 * its status id up as a team, as osTicket's FA_SetStatus does.
 */
export async function filterEventData(
  matching: readonly TicketFilter[],
  lookups: Lookups,
): Promise<FilterEventData[]> {
  const events: FilterEventData[] = [];
  for (const filter of applied(matching)) {
    for (const action of filter.actions) {
      const described = await describe(action, lookups);
      if (described) events.push({ value: described.value, filter: filter.name, type: described.type });
    }
  }
  return events;
}

async function describe(
  action: FilterAction,
  lookups: Lookups,
): Promise<{ value: string | false; type: string } | undefined> {
  switch (action.type) {
    case "dept": {
      const id = configId(action, "dept_id");
      return id ? { value: (await lookups.department(id))?.name ?? false, type: "Department" } : undefined;
    }
    case "pri": {
      const id = configId(action, "priority");
      return id ? { value: (await lookups.priority(id))?.desc ?? false, type: "Priority" } : undefined;
    }
    case "sla": {
      const id = configId(action, "sla_id");
      return id ? { value: (await lookups.sla(id))?.name ?? false, type: "SLA" } : undefined;
    }
    case "team": {
      const id = configId(action, "team_id");
      return id ? { value: (await lookups.team(id))?.name ?? false, type: "Team" } : undefined;
    }
    case "agent": {
      const id = configId(action, "staff_id");
      if (!id) return undefined;
      const staff = await lookups.staff(id);
      return { value: staff ? `${staff.firstname} ${staff.lastname}` : false, type: "Agent" };
    }
    case "topic": {
      const id = configId(action, "topic_id");
      return id ? { value: (await lookups.topic(id))?.name ?? false, type: "Topic" } : undefined;
    }
    case "status": {
      const id = configId(action, "status_id");
      return id ? { value: (await lookups.team(id))?.name ?? false, type: "Ticket Status" } : undefined;
    }
    default:
      return undefined;
  }
}
