import { dateTimePattern } from "@ostmesh/kit/osticket/dates.ts";
import {
  type AnswerContext,
  type CleanValue,
  formatPhone,
  listIdOf,
  listSelection,
  parseAnswer,
  type StoredAnswer,
  storeAnswer,
  validateAnswer,
} from "@ostmesh/kit/osticket/forms/answers.ts";
import { answerDates, parseAnswerDate } from "@ostmesh/kit/osticket/forms/datetime.ts";
import type { PhpInput } from "@ostmesh/kit/osticket/forms/typed.ts";
import {
  type BodyFormat,
  cleanBodyContent,
  cleanTextAnswer,
  cleanTitle,
  htmlChars,
  phpTrim,
  phpTruthyString,
  storedBody,
  truncate,
} from "@ostmesh/kit/osticket/html/format.ts";
import { ticketSourceEnum, type UseCaseContext, ucfirst, withUseCase } from "../context.ts";
import {
  OpenTicketLimitError,
  TicketDeniedError,
  TicketValidationError,
  type ValidationIssue,
} from "../errors.ts";
import { insertFormEntry, upsertCdata } from "../forms/entries.ts";
import { listIdsOf, listItemsRead } from "../forms/lists.ts";
import { drawNumberAhead, nextTicketNumber } from "../numbers.ts";
import { type Actor, type Ports, SYSTEM_ACTOR, type TicketNotice } from "../ports.ts";
import {
  cdataColumn,
  type FormDefinition,
  type FormField,
  hasData,
  isEnabled,
  isExtStored,
  isRequiredForClose,
  isRequiredForStaff,
  isRequiredForUsers,
  isVisibleToStaff,
  isVisibleToUsers,
} from "../reference/forms.ts";
import { DeptFlag, type Priority, type Staff, type Topic, TopicFlag } from "../reference/lookups.ts";
import { int, isNumeric, isRecord, phpInt, str } from "../rows.ts";
import { replaceSearchRows, type SearchRow } from "../search.ts";
import { computeSlaDueDate } from "../sla/due-date.ts";
import { type BatchRead, bothReads, type SqlValue } from "../sql.ts";
import {
  type AttachmentLink,
  EntryFlag,
  type FileImportError,
  insertFileImportErrorNote,
  insertThreadEntry,
  type RecipientList,
  ticketRecipients,
} from "../thread/entries.ts";
import { actorAuthor, logEvents, type NewThreadEvent } from "../thread/events.ts";
import { emailHost, isEmailAddress } from "../users/email.ts";
import {
  createUser,
  type ExistingUser,
  findUserByEmail,
  findUserById,
  normalizeUserName,
  OrgFlag,
  organizationForEmail,
  PRIMARY_ORG_CONTACT,
  type Requester,
  requesterRead,
} from "../users/requester.ts";
import {
  CANNED_REPLY_POSTER,
  cannedPlainText,
  cannedTicketData,
  companyName,
  enabledCannedResponse,
  linkCannedFiles,
  replaceCannedVariables,
} from "./canned.ts";
import {
  type ItemData,
  listItemFilterData,
  listSubFieldData,
  type StoredFilterData,
  storedFilterData,
} from "./filter-data.ts";
import {
  activeFiltersRead,
  applyFilterActions,
  type FilterEmailAction,
  type FilterOverrides,
  type FilterVars,
  filterEmails,
  filterEventData,
  filterTarget,
  matchingFilters,
  ruleFieldId,
  rulesLookAt,
} from "./filters.ts";
import { ticketSearchRow } from "./state.ts";

export interface RequesterInput {
  /** An existing end user; the other fields are then ignored. */
  readonly userId?: number;
  readonly email?: string;
  /** Required for a new user. */
  readonly name?: string;
  readonly phone?: string;
  readonly notes?: string;
}

/** One Cc entry of a typed request. */
export interface CollaboratorAddress {
  readonly email: string;
  /** Name for a new end user (the contact form's `name`). */
  readonly name?: string;
}

export interface CreateTicketInput {
  readonly requester: RequesterInput;
  /** Subject as sent (ticket form field `subject`). */
  readonly subject?: string;
  /** First message body as sent (ticket form field `message`). */
  readonly message?: string;
  /**
   * The legacy request carried a `message` key: osTicket's parsers make it a body object the required check
   * never refuses, so an empty body is no error (stored as "-").
   */
  readonly messageSent?: boolean;
  readonly messageFormat?: BodyFormat;
  /** Channel as sent; stored ucfirst in ost_ticket.source, verbatim on the entry. Default `API`. */
  readonly source?: string;
  /**
   * Validation origin: `api`, `web`, `email` or `staff`. Default: the source (the legacy API uses `source`
   * as the origin, so `Phone` / `Other` are refused there).
   */
  readonly origin?: string;
  /** The first message's address (the legacy API's `ip` as sent), and the ticket's unless `remoteAddress`. */
  readonly ipAddress?: string;
  /**
   * The HTTP client's address, for the ticket when `ipAddress` is PHP-falsy (Ticket::create:
   * `$vars['ip'] ?: $_SERVER['REMOTE_ADDR']`).
   */
  readonly remoteAddress?: string;
  /** Help topic; in legacy mode a raw value (non-numeric / unknown / inactive → 0 silently). */
  readonly topicId?: number | string;
  readonly deptId?: number;
  readonly statusId?: number;
  /** Ticket form `priority` answer: an id, or (legacy quirk) a name that is not resolved. */
  readonly priority?: number | string;
  /** Priority override (legacy `priorityId`; a name there leaves the ticket without priority). */
  readonly priorityId?: number | string;
  readonly slaId?: number;
  readonly staffId?: number;
  readonly teamId?: number;
  /** System mailbox (ost_email.email_id) the ticket is about. */
  readonly emailId?: number;
  /**
   * E-mail channel: the mail's first Reply-To address and its display name (the filters' `reply-to` and
   * `reply-to-name`; a filter's `replyto` action opens the ticket for it).
   */
  readonly replyTo?: { readonly email: string; readonly name?: string };
  /**
   * E-mail channel: the mail's To and Cc addressees that are no system mailbox, in header order (the
   * filters' `addressee`).
   */
  readonly recipients?: readonly { readonly name: string; readonly email: string }[];
  /** Agent-set due date (honoured for the staff origin only). */
  readonly dueDate?: Date;
  /** Custom field answers by variable name (ticket, contact and help-topic forms). */
  readonly answers?: Readonly<Record<string, string>>;
  /** The legacy API's `duedate` as sent (LegacyOptions.due_date): checked, never stored. */
  readonly legacyDueDate?: string;
  /** Legacy answers sent as other than strings, by variable name (LegacyOptions.typed_answers). */
  readonly typedAnswers?: ReadonlyMap<string, PhpInput>;
  readonly alert?: boolean;
  /**
   * The requester's notice (auto-response, or for an agent's ticket the new-ticket notice). False on an
   * agent's ticket is the staff panel's "Do Not Send Alert": its first message then names no recipients.
   */
  readonly autorespond?: boolean;
  /**
   * An agent's "Ticket Notice" choice; absent = from `autorespond` ("all" or "none"). Honoured only where the
   * staff panel offers it (see `ticketNoticeOf`).
   */
  readonly ticketNotice?: TicketNotice;
  /**
   * `cannedResponseId`: a canned response posted as the first response (Ticket::postCannedReply); a filter's
   * canned action takes its place. One that is not enabled is an issue keyed `cannedResponseId`, unless
   * `legacy` (osTicket posts nothing then).
   */
  readonly cannedResponseId?: number;
  readonly attachments?: readonly AttachmentLink[];
  /**
   * Existing end users to add as collaborators (legacy `ccs`: user ids); the owner, duplicates and (in
   * legacy mode) unknown ids are skipped.
   */
  readonly collaboratorUserIds?: readonly number[];
  /**
   * Cc addresses of a typed request, in request order. A known address adds its user (whatever the case);
   * an unknown one is an issue keyed `collaborators[<i>].email` unless `createCollaborators`. The owner's
   * own address and repeated addresses are skipped.
   */
  readonly collaboratorAddresses?: readonly CollaboratorAddress[];
  /**
   * Unknown Cc addresses become end users, as the staff panel's "Add New" user dialog creates them
   * (User::fromForm: the contact form checked with the agent's rules, then User::fromVars — the rows a new
   * requester gets), created after the requester and before the ticket. osTicket checks no ban list there.
   */
  readonly createCollaborators?: boolean;
  /**
   * osTicket's `$can_create` (`!$thisstaff || $thisstaff->hasPerm(User::PERM_CREATE)`): false for an agent
   * without user.create. A requester who is no user yet is then Ticket::create's `user` error
   * USER_CREATE_DENIED at its place among the other errors, and an unknown Cc address is the "Add New" user
   * dialog's refusal (USER_CREATE_DENIED under `collaborators[<i>].email`, before its form is checked).
   * Default true.
   */
  readonly mayCreateUsers?: boolean;
  /**
   * The acting agent's roles by department, as Staff::getRoles has them (the primary department and each
   * ost_staff_dept_access row, with the role's ticket permissions there), for Ticket::open's permission
   * checks: ticket.create in the department chosen and ticket.assign for an assignment. Undefined: not
   * checked (a caller who is no agent, or an agent's ticket opened for it by ostmesh itself).
   */
  readonly agentRoles?: ReadonlyMap<number, readonly string[]>;
  /** Files of the request that could not be stored: a "File Import Error" note each, before the message. */
  readonly fileImportErrors?: readonly FileImportError[];
  /**
   * osTicket's exact legacy-API semantics: unknown topic/department/status ids and priority names are
   * handled as osTicket handles them (silently) instead of being reported.
   */
  readonly legacy?: boolean;
}

export interface CreateTicketResult {
  readonly ticketId: number;
  readonly number: string;
  readonly threadId: number;
  readonly messageEntryId: number;
  readonly userId: number;
  readonly userCreated: boolean;
  readonly statusId: number;
  readonly deptId: number;
  readonly topicId: number;
  readonly slaId: number;
  readonly staffId: number;
  readonly teamId: number;
  /** est_duedate as written (epoch seconds), null without an active SLA. */
  readonly estDueEpoch: number | null;
  /** Collaborators the create added (Cc list, organization members). */
  readonly collaboratorsAdded: number;
}

/** An ordered error map with PHP array semantics: re-setting a key keeps its position. */
class Issues {
  readonly list: ValidationIssue[] = [];
  set(key: string, message: string): void {
    const at = this.list.findIndex((i) => i.key === key);
    if (at === -1) this.list.push({ key, message });
    else this.list[at] = { key, message };
  }
  push(key: string, message: string): void {
    this.list.push({ key, message });
  }
  has(key: string): boolean {
    return this.list.some((i) => i.key === key);
  }
  get size(): number {
    return this.list.length;
  }
  /**
   * PHP's `$errors = array_merge($errors, $more)` where `more` is a form's errors (keyed by field id): the
   * integer keys of both are renumbered from 0 in order (one number per field, however many messages it
   * has); string keys (`user`, `topicId`, …) stay.
   */
  mergeRenumbered(more: readonly ValidationIssue[]): void {
    let next = 0;
    const renumber = (list: readonly ValidationIssue[]) => {
      const given = new Map<string, string>();
      return list.map((issue) => {
        if (!/^(0|[1-9]\d*)$/.test(issue.key)) return issue;
        let key = given.get(issue.key);
        if (key === undefined) {
          key = String(next++);
          given.set(issue.key, key);
        }
        return { ...issue, key };
      });
    };
    const merged = [...renumber(this.list), ...renumber(more)];
    this.list.splice(0, this.list.length, ...merged);
  }
}

const MISSING_DATA = "Missing or invalid data — Correct any errors below and try again";

/** Ticket::create's `user` error (and the "Add New" user dialog's refusal) for an agent without user.create. */
export const USER_CREATE_DENIED = "You do not have permission to create users.";

/** Ticket::open's refusal (`err`) of an agent whose role in the department chosen lacks ticket.create. */
export const DEPT_CREATE_DENIED = "You do not have permission to create a ticket in this department";

/** Ticket::open's `assignId` error for an agent who may not assign in the department chosen. */
export const ASSIGN_DENIED = "Action Denied. You are not allowed to assign/reassign tickets.";

/** No address to look up: nobody is banned or found. */
const NO_REQUESTER: BatchRead<Requester> = {
  statements: [],
  read: () => ({ banned: false, user: undefined, domainOrgId: 0 }),
};

/** Ticket::$sources, the keys Ticket::open accepts as `source` (array_key_exists: case-sensitive). */
const TICKET_SOURCES: ReadonlySet<string> = new Set(["Phone", "Email", "Web", "API", "Other"]);

/** A form instantiated for the new ticket. */
interface FormInstance {
  readonly form: FormDefinition;
  readonly sort: number;
  readonly extra: string | null;
  readonly disabled: ReadonlySet<number>;
}

interface PriorityAnswer {
  readonly value: string | null;
  readonly valueId: number;
  readonly cdata: string;
}

/**
 * Ticket::create as the legacy API, client portal, e-mail or staff panel runs it (FACTS §2.1, §2.2), in one
 * transaction: everything is validated before the first write, so a refused request writes nothing.
 * Throws TicketValidationError (osTicket's keys, texts and order) or TicketDeniedError (ban list, or a
 * ticket filter's reject action).
 */
export function createTicket(
  tx: UseCaseContext["tx"],
  input: CreateTicketInput,
  actor: Actor,
  ports: Ports = {},
) {
  return withUseCase(tx, actor, ports, (ctx) => create(ctx, input));
}

async function create(ctx: UseCaseContext, input: CreateTicketInput): Promise<CreateTicketResult> {
  const { tx, config, lookups } = ctx;
  const legacy = input.legacy ?? false;
  const source = input.source ?? "API";
  const origin = (input.origin ?? source).toLowerCase();
  const issues = new Issues();
  const isStaffActor = ctx.actor.kind === "staff";
  const required = (f: FormField) => (isStaffActor ? isRequiredForStaff(f) : isRequiredForUsers(f));
  const validates = (f: FormField) => {
    switch (origin) {
      case "email":
        return false;
      case "staff":
        return isVisibleToStaff(f);
      case "web":
        return isVisibleToUsers(f);
      default:
        return true;
    }
  };

  // The requester given by id (Ticket::create: `User::lookup($vars['uid'])`).
  const byId = input.requester.userId ? await findUserById(tx, input.requester.userId) : undefined;

  // --- The staff panel's own checks before Ticket::create (Ticket::open): a requester who is no user yet
  // needs a valid address and a name. Their errors come first and, like every error before the ban list,
  // keep Ticket::create from looking at the requester at all (so no user.create refusal follows them).
  const staffPanel = origin === "staff" && isStaffActor;
  // Ticket::open's first check refuses alone (it returns before anything else is looked at).
  const deptRole =
    staffPanel && input.agentRoles ? await roleInChosenDept(ctx, input, input.agentRoles) : null;
  if (deptRole && !deptRole.permissions.includes("ticket.create"))
    throw new TicketValidationError([{ key: "err", message: DEPT_CREATE_DENIED }]);
  if (staffPanel && input.source !== undefined && !TICKET_SOURCES.has(input.source))
    issues.set("source", `Invalid source given - ${htmlChars(input.source)}`);
  if (staffPanel && !byId) await staffPanelRequesterChecks(ctx, input, issues);
  // Ticket::open: an assignment takes ticket.assign in the department chosen (any role of the agent's when
  // none is chosen); a department the agent has no role in grants it (see roleInChosenDept).
  if (staffPanel && input.agentRoles && (input.staffId || input.teamId)) {
    const mayAssign = deptRole
      ? deptRole.permissions.includes("ticket.assign") || deptRole.synthetic
      : [...input.agentRoles.values()].some((p) => p.includes("ticket.assign"));
    if (!mayAssign) issues.set("assignId", ASSIGN_DENIED);
  }

  // --- Origin checks (Validator::process over the origin's required fields).
  const rawTopic = input.topicId;
  const fieldChecks: Array<{
    key: string;
    value: unknown;
    type: "int" | "string";
    required: boolean;
    error: string;
  }> = [];
  switch (origin) {
    case "web":
      fieldChecks.push({
        key: "topicId",
        value: rawTopic,
        type: "int",
        required: true,
        error: "Select a Help Topic",
      });
      break;
    case "staff":
      fieldChecks.push(
        {
          key: "deptId",
          value: input.deptId,
          type: "int",
          required: false,
          error: "Department selection is required",
        },
        {
          key: "topicId",
          value: rawTopic,
          type: "int",
          required: true,
          error: "Help topic selection is required",
        },
        { key: "source", value: source, type: "string", required: true, error: "Indicate ticket source" },
      );
      break;
    case "api":
      fieldChecks.push({
        key: "source",
        value: source,
        type: "string",
        required: true,
        error: "Indicate ticket source",
      });
      break;
    case "email":
      fieldChecks.push({
        key: "emailId",
        value: input.emailId,
        type: "int",
        required: true,
        error: "Unknown system email",
      });
      break;
    default:
      issues.set("origin", "Invalid ticket origin given");
      issues.set("err", "No fields set up");
  }
  let fieldFailed = false;
  for (const check of fieldChecks) {
    const empty = check.value === undefined || check.value === null || check.value === "";
    if (!check.required && (empty || check.value === 0)) continue;
    const missing = check.value === undefined || check.value === null || (empty && check.type !== "int");
    if ((check.required && missing) || (check.type === "int" && !isNumeric(check.value))) {
      issues.set(check.key, check.error);
      fieldFailed = true;
    }
  }
  // Validator::process fails whenever the error map is not empty, Ticket::open's errors included.
  if ((fieldFailed || issues.size > 0) && !issues.has("err")) issues.set("err", MISSING_DATA);
  if (input.dueDate && input.dueDate.getTime() / 1000 <= ctx.now)
    issues.set("duedate", "Due date must be in the future");
  // The legacy API's `duedate`: checked as strtotime reads it, never stored.
  if (input.legacyDueDate) {
    const due = parseAnswerDate(input.legacyDueDate, ctx.now * 1000);
    if (due === undefined) issues.set("duedate", "Invalid due date");
    else if (due <= ctx.now) issues.set("duedate", "Due date must be in the future");
  }

  // Reference rows this request will most likely need, in one round trip with the ban list and the
  // requester (read ahead: they are only used once the request has passed the checks before them), and a
  // ticket number of the helpdesk's own scheme (kept unless the help topic numbers its tickets itself).
  let email = byId?.email ?? phpTrim(input.requester.email ?? "");
  const helpdeskNumbers = { format: config.ticketNumberFormat, sequenceId: config.ticketSequenceId };
  // --- Forms: the ticket form, plus the help topic's forms (a topic may disable some fields). Known before
  // the read ahead (they are cached), so that it reads the items of their lists too.
  const ticketForm = await ctx.metadata.byType(tx, "T");
  if (!ticketForm) throw new Error("osTicket has no ticket form (ost_form type 'T')");
  const contactForm = await ctx.metadata.byType(tx, "U");
  const requestedTopicId = isNumeric(input.topicId) ? phpInt(String(input.topicId)) : 0;
  const [[[requesterFound, drawnNumber], filters], listItems] = await lookups.prefetch(
    {
      topics: [requestedTopicId, config.defaultHelpTopicId],
      statuses: [input.statusId ?? 0, config.defaultTicketStatusId],
      depts: [input.deptId ?? 0, config.defaultDeptId],
      slas: [input.slaId ?? 0, config.defaultSlaId],
    },
    bothReads(
      bothReads(
        bothReads(email ? requesterRead(email) : NO_REQUESTER, drawNumberAhead(helpdeskNumbers, ctx.random)),
        activeFiltersRead(filterTarget(origin), input.emailId ?? 0),
      ),
      listItemsRead(listIdsOf([ticketForm, contactForm]), requestedTopicId),
    ),
  );
  // How answers are read: list items looked up, dates as the date picker writes them (in the agent's zone
  // for an agent's ticket), the legacy API's typed values as osTicket's widgets read them. Ticket::create
  // parses the ticket form's values itself for the API and e-mail origins, yet stores what the widgets read,
  // as for every form (osTicket's PHP stores the picker's form of an API date).
  const dates = answerDates(config, ctx.staff?.timezone);
  const answersRead = { listItems, dates, typed: input.typedAnswers, legacy };
  let ticketInstance: FormInstance = { form: ticketForm, sort: 1, extra: null, disabled: new Set() };
  const topicInstances: FormInstance[] = [];

  const topicIdNumber = isNumeric(rawTopic) ? phpInt(String(rawTopic)) : 0;
  const requestedTopic = topicIdNumber ? await lookups.topic(topicIdNumber) : undefined;
  let topic: Topic | undefined =
    requestedTopic && (requestedTopic.flags & TopicFlag.ACTIVE) !== 0 ? requestedTopic : undefined;
  if (rawTopic !== undefined && rawTopic !== "" && rawTopic !== 0 && !topic && !legacy) {
    issues.set("topicId", "Unknown or inactive help topic");
  }

  let requester = requesterFound;
  let user: ExistingUser | undefined;
  /** The organization the looked-up requester address's domain maps to (read with the requester). */
  let requesterDomainOrg: { email: string; orgId: number } | undefined;
  let newUser: { email: string; name: string; answers: Map<string, string | null> } | undefined;
  /** What the ticket filters changed, and the data they were matched on (for the post-create pass). */
  let overrides: FilterOverrides = {};
  let filterVars: FilterVars | undefined;
  const vars: Record<string, string | undefined> = { ...input.answers };
  for (const [k, v] of Object.entries({
    email: input.requester.email,
    name: input.requester.name,
    phone: input.requester.phone,
    notes: input.requester.notes,
  })) {
    if (v !== undefined) vars[k] = v;
  }

  if (issues.size === 0) {
    if (topic) {
      const topicForms = await lookups.topicForms(topic.id);
      for (const [idx, tf] of topicForms.entries()) {
        const form = tf.formType === "T" ? ticketForm : await ctx.metadata.byId(tx, tf.formId);
        if (!form) continue;
        const disabled = form.fields
          .filter((f) => isEnabled(f) && tf.disabledFieldIds.includes(f.id))
          .map((f) => f.id);
        const instance = {
          form,
          sort: idx,
          extra: JSON.stringify({ disable: disabled }),
          disabled: new Set(disabled),
        };
        if (tf.formType === "T") ticketInstance = instance;
        else topicInstances.push(instance);
      }
    }

    // The ticket filters (filterTicketData → TicketFilter::apply), before the open-ticket limit. A known
    // user's and an organization's stored answers are read only when a rule looks at a field of no form
    // the request fills in.
    const requestFieldIds = new Set(
      [ticketInstance, ...topicInstances].flatMap((i) => i.form.fields.map((f) => f.id)),
    );
    const storedWanted = rulesLookAt(filters, (what) => {
      const id = ruleFieldId(what);
      return id !== 0 && !requestFieldIds.has(id);
    });
    const listSubFieldsWanted = rulesLookAt(filters, (what) => /^field\.\d+\./.test(what));
    const priorityData = await priorityFilterData(ctx, input.priority);
    // The request's list answers are read as their fields read them (items looked up, Ticket::create's own
    // parse first on the ticket form); their items' properties cost one read, only when a rule names one.
    const filterAnswers = {
      ticket: { listItems, typed: input.typedAnswers, legacy },
      other: { listItems, typed: input.typedAnswers, legacy },
    };
    const requestItems = listSubFieldsWanted
      ? await listItemFilterData(
          tx,
          [ticketInstance, ...topicInstances]
            .flatMap((instance) => [
              ...requestListSelections(
                instance,
                vars,
                instance === ticketInstance ? filterAnswers.ticket : filterAnswers.other,
              ).values(),
            ])
            .flat(),
        )
      : undefined;
    let carried: FilterOverrides = {};
    for (let pass = 0; ; pass++) {
      // Ban list (filterTicketData → Banlist::isBanned), for the requester of this pass.
      if (requester.banned) throw new TicketDeniedError(email);
      // A re-run after `replyto` looks its user up by the new address (osTicket passes no user then).
      const filterUser = pass === 0 ? (byId ?? requester.user) : requester.user;
      const filterOrgId = filterUser ? filterUser.orgId : requester.domainOrgId;
      const stored =
        storedWanted && (filterUser || filterOrgId)
          ? await storedFilterData(tx, filterUser?.id ?? 0, filterOrgId, listSubFieldsWanted)
          : undefined;
      filterVars = ticketFilterVars(input, {
        user: filterUser,
        contactForm,
        ticketInstance,
        topicInstances,
        vars,
        stored,
        priorityData,
        answers: filterAnswers,
        requestItems,
      });
      overrides = await applyFilterActions(
        matchingFilters(filters, filterVars),
        lookups,
        filterVars,
        carried,
      );
      if (overrides.rejectedBy)
        throw new TicketDeniedError(filterVars.email ?? email, {
          id: overrides.rejectedBy.id,
          name: overrides.rejectedBy.name,
        });
      const { replyTo, ...kept } = overrides;
      overrides = kept;
      // FilterDataChanged: the filters run again for the Reply-To address (and its name, else the name the
      // filters saw), which the ticket is then opened for. A user found by a uid stays the owner. A loop
      // (the Reply-To's user has another default address) ends here; osTicket's recursion never ends.
      if (!replyTo || pass >= 3) break;
      carried = kept;
      vars.email = replyTo.email;
      vars.name = replyTo.name ?? filterVars.name;
      email = phpTrim(replyTo.email);
      requester = await tx.read(requesterRead(email));
    }
    requesterDomainOrg = { email, orgId: requester.domainOrgId };

    // Open-ticket limit per user (loop control).
    if (config.maxOpenTickets > 0 && origin !== "staff" && requester.user) {
      if ((await openTicketCount(ctx, requester.user.id)) >= config.maxOpenTickets) {
        throw new OpenTicketLimitError(email, config.maxOpenTickets);
      }
    }

    user = byId ?? requester.user;
    if (!user) {
      if (origin === "email" && !config.flag("accept_unregistered_email") && !requester.domainOrgId) {
        throw new TicketDeniedError(email, undefined, { unregistered: true });
      }
      // User::fromVars($clean, $can_create) creates nobody without the permission: the refusal then stands
      // in for whatever the contact form says, before the ticket form's errors.
      if (input.mayCreateUsers === false) issues.set("user", USER_CREATE_DENIED);
      else {
        const candidate = await validateNewUser(ctx, contactForm, vars, validates, required, answersRead);
        if (candidate) newUser = candidate;
        else issues.set("user", "Incomplete client information");
      }
    }
  }

  // --- Ticket form (always validated, so its errors follow the user error).
  const ticketValues = new Map<number, CleanValue>();
  const messageFormat: BodyFormat = input.messageFormat ?? "text";
  const bodyContent = cleanBodyContent(input.message ?? "", messageFormat, {
    editorSpacing: ctx.actor.kind !== "system",
    policy: ctx.htmlPolicy,
  });
  const body = storedBody(bodyContent);
  // The legacy API with the Web origin: Ticket::create reads the ticket form as the portal posts it (fields
  // under their hashed names, the message as the portal's editor sends it), so the API's message is never
  // seen, nor, once a topicId is sent, any ticket-form answer (osTicket's PHP refuses every such request).
  const portalForm = legacy && origin === "web";
  const portalFormBlank = portalForm && rawTopic !== undefined && phpTruthyString(String(rawTopic));
  const messageGiven = !portalForm && (bodyContent !== "" || (legacy && input.messageSent === true));
  for (const field of ticketInstance.form.fields) {
    if (!isEnabled(field) || ticketInstance.disabled.has(field.id) || !hasData(field)) continue;
    if (field.type === "thread") {
      if (validates(field) && required(field) && !messageGiven) {
        issues.push(String(field.id), `${field.label || "This"} is a required field`);
      }
      continue;
    }
    if (field.type === "priority") {
      const given = input.priority !== undefined && input.priority !== "";
      if (validates(field) && required(field) && !given && !input.priorityId) {
        issues.push(String(field.id), `${field.label || "This"} is a required field`);
      }
      continue;
    }
    const raw = portalFormBlank
      ? undefined
      : field.name === "subject"
        ? input.subject
        : field.name
          ? vars[field.name]
          : undefined;
    const value = parseAnswer(field, raw, answersRead);
    ticketValues.set(field.id, value);
    if (!validates(field)) continue;
    for (const message of validateAnswer(field, value, {
      required: required(field),
      isEmail: (a) => !!emailHost(a),
    })) {
      issues.push(String(field.id), message);
    }
  }

  // Priority ids and names (typed requests must name a real priority).
  const priorities = await lookups.priorities();
  const findPriority = (raw: number | string | undefined): Priority | undefined => {
    if (raw === undefined || raw === "") return undefined;
    const text = String(raw).trim();
    if (isNumeric(text)) return priorities.find((p) => p.id === phpInt(text));
    return legacy
      ? undefined
      : priorities.find((p) => [p.priority, p.desc].some((n) => n.toLowerCase() === text.toLowerCase()));
  };
  if (!legacy) {
    for (const [key, raw] of [
      ["priority", input.priority],
      ["priorityId", input.priorityId],
    ] as const) {
      if (raw !== undefined && raw !== "" && raw !== 0 && !findPriority(raw))
        issues.set(key, "Unknown priority");
    }
    const checks: Array<[string, number | undefined, (id: number) => Promise<unknown>, string]> = [
      ["deptId", input.deptId, (id) => lookups.department(id), "Unknown department"],
      ["statusId", input.statusId, (id) => lookups.status(id), "Unknown ticket status"],
      ["slaId", input.slaId, (id) => lookups.sla(id), "Unknown SLA plan"],
      ["staffId", input.staffId, (id) => lookups.staff(id), "Unknown agent"],
      ["teamId", input.teamId, (id) => lookups.team(id), "Unknown team"],
      ["emailId", input.emailId, (id) => lookups.systemEmail(id), "Unknown system email"],
    ];
    for (const [key, id, find, message] of checks) {
      if (id && !(await find(id))) issues.set(key, message);
    }
  }

  // Collaborators must be existing users (typed requests are told about unknown ones).
  const collaborators: CollaboratorSlot[] = [];
  for (const id of new Set(input.collaboratorUserIds ?? [])) {
    const found = await findUserById(tx, id);
    if (found) collaborators.push({ id: found.id, name: found.name, email: found.email });
    else if (!legacy) issues.set("collaborators", `Unknown user ${id}`);
  }
  collaborators.push(
    ...(await resolveCollaboratorAddresses(ctx, input, contactForm, issues, newUser?.email ?? "")),
  );

  // --- Help topic forms (only for an active topic).
  const topicValues = new Map<FormInstance, Map<number, CleanValue>>();
  if (!topic) topicInstances.length = 0;
  for (const instance of topicInstances) {
    const values = new Map<number, CleanValue>();
    const formIssues: ValidationIssue[] = [];
    for (const field of instance.form.fields) {
      if (!isEnabled(field) || instance.disabled.has(field.id) || !hasData(field) || isExtStored(field))
        continue;
      const value = parseAnswer(field, field.name ? vars[field.name] : undefined, answersRead);
      values.set(field.id, value);
      if (!validates(field)) continue;
      for (const message of validateAnswer(field, value, {
        required: required(field),
        isEmail: (a) => !!emailHost(a),
      })) {
        formIssues.push({ key: String(field.id), message });
      }
    }
    // Ticket::create merges each invalid topic form's errors with array_merge, which renumbers the field ids
    // of every form's errors so far: the legacy API answers them so ("0\nSerial is a required field").
    if (legacy && formIssues.length > 0) issues.mergeRenumbered(formIssues);
    else for (const issue of formIssues) issues.push(issue.key, issue.message);
    topicValues.set(instance, values);
  }

  if (issues.size) throw new TicketValidationError(issues.list);

  // --- Everything is valid: resolve the ticket's attributes (Ticket::create, "Intenal mapping magic").
  // A filter's priority, department, status, SLA, agent, team and topic overwrite the request's (`$vars`).
  const priorityId = overrides.priorityId ?? input.priorityId;
  const legacyPriorityId = priorityId !== undefined && priorityId !== "" && priorityId !== 0;
  const explicitPriority = legacyPriorityId ? findPriority(priorityId) : findPriority(input.priority);
  let priorityOverride: PriorityAnswer | undefined;
  if (legacyPriorityId && !explicitPriority) {
    priorityOverride = { value: null, valueId: phpInt(String(priorityId)), cdata: "" };
  }
  const priorityNameGiven =
    !legacyPriorityId && input.priority !== undefined && input.priority !== "" && !explicitPriority;
  let fallbackPriorityId = 0;
  const fallback = (id: number) => {
    if (!explicitPriority && !priorityOverride && !fallbackPriorityId && id) fallbackPriorityId = id;
  };

  let statusId = overrides.statusId ?? input.statusId ?? 0;
  let deptId = overrides.deptId ?? input.deptId ?? 0;
  if (overrides.topicId) topic = await lookups.topic(overrides.topicId);
  let ticketSource = ucfirst(source);
  if (input.emailId) {
    const mailbox = await lookups.systemEmail(input.emailId);
    if (mailbox) {
      deptId = deptId || mailbox.deptId;
      const dept = deptId ? await lookups.department(deptId) : undefined;
      if (dept && (dept.flags & DeptFlag.ACTIVE) === 0) deptId = config.defaultDeptId;
      fallback(mailbox.priorityId);
      if (!topic && mailbox.topicId) {
        const t = await lookups.topic(mailbox.topicId);
        if (t && (t.flags & TopicFlag.ACTIVE) !== 0) topic = t;
      }
      ticketSource = "Email";
    }
  }
  if (!topic && config.defaultHelpTopicId) topic = await lookups.topic(config.defaultHelpTopicId);
  // An assignee the agent picked in the staff panel (its `assignId`) is assigned as picked: osTicket
  // auto-assigns the filters' agent and team only when no one was picked.
  const pickedAssignee = staffPanel && (input.staffId !== undefined || input.teamId !== undefined);
  const filterStaffId = pickedAssignee ? undefined : overrides.staffId;
  const filterTeamId = pickedAssignee ? undefined : overrides.teamId;
  let staffId = filterStaffId ?? input.staffId ?? 0;
  let teamId = filterTeamId ?? input.teamId ?? 0;
  let staffSet = filterStaffId !== undefined || input.staffId !== undefined;
  let teamSet = filterTeamId !== undefined || input.teamId !== undefined;
  let slaTrump: number | undefined = overrides.slaId ?? input.slaId;
  if (topic) {
    deptId = deptId || topic.deptId;
    statusId = statusId || topic.statusId;
    fallback(topic.priorityId);
    if (!staffSet && topic.staffId) {
      staffId = topic.staffId;
      staffSet = true;
    } else if (!teamSet && topic.teamId) {
      teamId = topic.teamId;
      teamSet = true;
    }
    if (slaTrump === 0) slaTrump = undefined;
    if (slaTrump !== undefined) slaTrump = slaTrump || config.defaultSlaId;
    else if (topic.slaId) slaTrump = topic.slaId;
  }
  const owner = user;
  const orgId = owner
    ? owner.orgId
    : newUser
      ? newUser.email === requesterDomainOrg?.email
        ? requesterDomainOrg.orgId
        : await organizationForEmail(tx, newUser.email)
      : 0;
  // The owner's organization: its account manager may take the ticket, its members may join it.
  const org = orgId
    ? await tx.first("SELECT id, status, manager FROM ost_organization WHERE id = ?", [orgId])
    : undefined;
  if (org) {
    const manager = str(org, "manager");
    if ((int(org, "status") & OrgFlag.ASSIGN_AGENT_MANAGER) !== 0 && manager) {
      const managerId = phpInt(manager.slice(1));
      if (!staffSet && manager.startsWith("s")) staffId = managerId;
      else if (!teamSet && manager.startsWith("t")) teamId = managerId;
    }
  }
  fallback(config.defaultPriorityId);
  deptId = deptId || config.defaultDeptId;
  statusId = statusId || config.defaultTicketStatusId;
  const topicId = topic?.id ?? 0;
  const ipAddress = truncate(input.ipAddress ?? "", 64);
  const ticketIpAddress = phpTruthyString(input.ipAddress ?? "")
    ? ipAddress
    : truncate(input.remoteAddress ?? ipAddress, 64);
  ticketSource = ticketSource || "Web";

  let priority: PriorityAnswer;
  if (priorityOverride) priority = priorityOverride;
  else if (explicitPriority)
    priority = {
      value: explicitPriority.desc,
      valueId: explicitPriority.id,
      cdata: String(explicitPriority.id),
    };
  else {
    const p = fallbackPriorityId ? await lookups.priority(fallbackPriorityId) : undefined;
    priority = p
      ? { value: priorityNameGiven ? null : p.desc, valueId: p.id, cdata: String(p.id) }
      : { value: null, valueId: fallbackPriorityId, cdata: "" };
  }

  // Ticket number: the topic's own format/sequence when it has custom numbering.
  const customNumbers = topic && (topic.flags & TopicFlag.CUSTOM_NUMBERS) !== 0;
  const number = await nextTicketNumber(
    tx,
    customNumbers
      ? { format: topic?.numberFormat || "######", sequenceId: topic?.sequenceId ?? 0 }
      : helpdeskNumbers,
    ctx.random,
    customNumbers ? undefined : drawnNumber,
  );

  // SLA (Ticket::selectSLAId): explicit → department's → topic's → default; must exist.
  const dept = await lookups.department(deptId);
  let slaId = slaTrump && slaTrump > 0 ? slaTrump : dept?.slaId || topic?.slaId || config.defaultSlaId;
  if (slaId && !(await lookups.sla(slaId))) slaId = 0;

  // Status: a closed status closes the new ticket at once if it is closeable; anything else → default.
  let status = await lookups.status(statusId);
  let closing = false;
  if (status && status.state.toLowerCase() === "closed") {
    const missingRequired = [ticketInstance, ...topicInstances].some((inst) =>
      inst.form.fields.some(
        (f) =>
          isEnabled(f) &&
          isRequiredForClose(f) &&
          !inst.disabled.has(f.id) &&
          !(f.type === "priority"
            ? priority.valueId
            : (inst === ticketInstance ? ticketValues : topicValues.get(inst))?.get(f.id)),
      ),
    );
    closing = !missingRequired && !(config.requireTopicToClose && !topicId);
  }
  if (!status || !(status.state.toLowerCase() === "open" || closing)) {
    status = await lookups.status(config.defaultTicketStatusId);
    closing = false;
  }
  statusId = status?.id ?? config.defaultTicketStatusId;
  const actorStaff: Staff | undefined = ctx.staff;
  let closingStaffId = 0;
  if (closing && origin === "staff" && actorStaff) closingStaffId = actorStaff.id;

  // Auto-assignment (only while open): agent must be available, team enabled.
  let assignedStaff: Staff | undefined;
  let assignedTeamId = 0;
  if (!closing) {
    if (staffId) {
      const s = await lookups.staff(staffId);
      if (s?.isActive && !s.onVacation) assignedStaff = s;
    }
    if (teamId) {
      const t = await lookups.team(teamId);
      if (t && (t.flags & 0x1) !== 0) assignedTeamId = t.id;
    }
  }
  const finalStaffId = closing ? closingStaffId : (assignedStaff?.id ?? 0);

  const estDueEpoch = await computeSlaDueDate(tx, lookups, {
    slaId,
    deptId,
    startEpoch: ctx.now,
    actorTimezone: actorStaff?.timezone,
  });

  // ================= Writes =================
  let userId: number;
  let posterName: string;
  let userCreated = false;
  const searchRows: SearchRow[] = [];
  let ownerEmail: string;
  if (owner) {
    userId = owner.id;
    posterName = owner.name;
    ownerEmail = owner.email;
  } else if (newUser) {
    const created = await createUserOrReuse(ctx, contactForm, { ...newUser, orgId, dates });
    userId = created.id;
    posterName = created.name;
    ownerEmail = created.email;
    userCreated = created.created;
    if (created.searchRow) searchRows.push(created.searchRow);
  } else {
    throw new Error("ticket owner unresolved after validation");
  }
  // The Cc list's new end users, in request order (the staff panel creates them before the ticket).
  const collaboratorUsers: { id: number; name: string; email: string }[] = [];
  for (const slot of collaborators) {
    if (!("newUser" in slot)) {
      collaboratorUsers.push(slot);
      continue;
    }
    const user = { ...slot.newUser, orgId: await organizationForEmail(tx, slot.newUser.email) };
    const created = await createUserOrReuse(ctx, contactForm, user);
    if (created.searchRow) searchRows.push(created.searchRow);
    collaboratorUsers.push(created);
  }

  const dueDateEpoch =
    origin === "staff" && input.dueDate ? Math.floor(input.dueDate.getTime() / 60_000) * 60 : null;
  // The ticket and its thread in one round trip (the thread takes the ticket's id as LAST_INSERT_ID()).
  const [ticket, thread] = await tx.runAll([
    {
      sql:
        "INSERT INTO ost_ticket (number, user_id, status_id, dept_id, sla_id, topic_id, staff_id, team_id, email_id," +
        " ip_address, source, duedate, est_duedate, closed, lastupdate, created, updated)" +
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, IF(? IS NULL, NULL, FROM_UNIXTIME(?)), IF(? IS NULL, NULL, FROM_UNIXTIME(?))," +
        " IF(?, NOW(), NULL), NOW(), NOW(), NOW())",
      params: [
        number,
        userId,
        statusId,
        deptId,
        slaId,
        topicId,
        finalStaffId,
        closing ? 0 : assignedTeamId,
        input.emailId ?? 0,
        ticketIpAddress,
        ticketSourceEnum(ticketSource),
        dueDateEpoch,
        dueDateEpoch,
        estDueEpoch,
        estDueEpoch,
        closing ? 1 : 0,
      ] satisfies SqlValue[],
    },
    {
      sql: "INSERT INTO ost_thread (object_id, object_type, lastmessage, created) VALUES (LAST_INSERT_ID(), 'T', NOW(), NOW())",
    },
  ]);
  const ticketId = ticket?.insertId ?? 0;
  const threadId = thread?.insertId ?? 0;

  // Ticket form entry (+ cdata mirror), then the topic's forms.
  const ticketStored: StoredAnswer[] = [];
  const cdata = new Map<string, string>();
  const topicName = topic ? await lookups.topicFullName(topic) : "";
  for (const field of ticketInstance.form.fields) {
    if (!isEnabled(field) || ticketInstance.disabled.has(field.id) || !hasData(field) || isExtStored(field))
      continue;
    let stored: StoredAnswer;
    if (field.type === "priority") {
      stored = {
        fieldId: field.id,
        value: priority.value,
        valueId: priority.valueId,
        cdata: priority.cdata,
        searchable: "",
      };
    } else {
      let value = ticketValues.get(field.id) ?? null;
      if (field.name === "subject" && !value && topic) value = cleanTextAnswer(topicName);
      stored = storeAnswer(field, value, dates);
    }
    ticketStored.push(stored);
    cdata.set(cdataColumn(field), stored.cdata);
  }
  insertFormEntry(
    tx,
    {
      formId: ticketInstance.form.id,
      objectType: "T",
      objectId: ticketId,
      sort: ticketInstance.sort,
      extra: ticketInstance.extra,
    },
    ticketStored,
  );
  upsertCdata(tx, "ost_ticket__cdata", "ticket_id", ticketId, cdata);
  const searchAnswers = ticketStored.map((a) => {
    const field = ticketInstance.form.fields.find((f) => f.id === a.fieldId);
    return {
      fieldName: field?.name ?? "",
      fieldType: field?.type ?? "",
      configuration: field?.configuration ?? {},
      value: a.value,
    };
  });
  for (const instance of topicInstances) {
    const values = topicValues.get(instance) ?? new Map<number, CleanValue>();
    const stored = [...values].flatMap(([fieldId, value]) => {
      const field = instance.form.fields.find((f) => f.id === fieldId);
      return field ? [storeAnswer(field, value, dates)] : [];
    });
    insertFormEntry(
      tx,
      {
        formId: instance.form.id,
        objectType: "T",
        objectId: ticketId,
        sort: instance.sort,
        extra: instance.extra,
      },
      stored,
    );
    for (const a of stored) {
      const field = instance.form.fields.find((f) => f.id === a.fieldId);
      searchAnswers.push({
        fieldName: field?.name ?? "",
        fieldType: field?.type ?? "",
        configuration: field?.configuration ?? {},
        value: a.value,
      });
    }
  }

  // Thread events: created, closed (initial closed status), assignments.
  const actorAuthorRow = await actorAuthor(lookups, tx, ctx.actor);
  const createdAuthor =
    ctx.actor.kind === "staff" ? actorAuthorRow : { ...actorAuthorRow, uid: userId, uidType: "U" as const };
  const actingStaffId = actorStaff?.id ?? 0;
  const snapshot = (staff: number, team: number) => ({
    threadId,
    staffId: actingStaffId && !staff ? actingStaffId : staff,
    teamId: team,
    deptId,
    topicId,
  });
  const events: NewThreadEvent[] = [{ ...snapshot(0, 0), state: "created", author: createdAuthor }];
  // Collaborators (Ticket::addCollaborator): active + cc, role M, one `collab` event each; the owner and
  // users already on the thread are skipped. Without an agent signed in, an agent's address joins inactive
  // when the help desk disables agent collaborators.
  const agentsInactive = ctx.actor.kind !== "staff" && config.flag("disable_agent_collabs");
  let collaboratorsAdded = 0;
  const addCollaborator = async (collaborator: { id: number; name: string; email: string }) => {
    if (collaborator.id === userId) return false;
    const inactive =
      agentsInactive &&
      (await tx.first("SELECT staff_id FROM ost_staff WHERE email = ? LIMIT 1", [collaborator.email])) !==
        undefined;
    const added = await tx.run(
      "INSERT IGNORE INTO ost_thread_collaborator (flags, thread_id, user_id, role, created, updated)" +
        " VALUES (?, ?, ?, 'M', NOW(), NOW())",
      [inactive ? 2 : 3, threadId, collaborator.id],
    );
    if (!added.affectedRows) return false;
    collaboratorsAdded++;
    events.push({
      ...snapshot(0, 0),
      state: "collab",
      data: { add: { [collaborator.id]: { name: collaborator.name } } },
      author: actorAuthorRow,
    });
    return true;
  };
  for (const collaborator of collaboratorUsers) await addCollaborator(collaborator);
  // The organization's auto-collaboration (Ticket::create, every origin): all its members, or its primary
  // contacts, then one `collab` event naming the organization when anyone joined.
  const orgStatus = org ? int(org, "status") : 0;
  if (org && (orgStatus & (OrgFlag.COLLAB_ALL_MEMBERS | OrgFlag.COLLAB_PRIMARY_CONTACT)) !== 0) {
    const everyone = (orgStatus & OrgFlag.COLLAB_ALL_MEMBERS) !== 0;
    let joined = false;
    for (const member of await organizationMembers(tx, int(org, "id"))) {
      if (!everyone && (member.status & PRIMARY_ORG_CONTACT) === 0) continue;
      if (await addCollaborator(member)) joined = true;
    }
    if (joined)
      events.push({
        ...snapshot(0, 0),
        state: "collab",
        data: { org: int(org, "id") },
        author: actorAuthorRow,
      });
  }
  // The post-create filter pass: matched again, now on the stored user's name and address, and one `edited`
  // event for each action of the filters applied that describes itself; their "Send an Email" actions.
  let emailsOfFilters: FilterEmailAction[] = [];
  if (filterVars) {
    const matchedAfter = matchingFilters(filters, { ...filterVars, name: posterName, email: ownerEmail });
    emailsOfFilters = filterEmails(matchedAfter, { name: posterName, email: ownerEmail });
    const described = await filterEventData(matchedAfter, lookups);
    if (described.length) {
      const filterAuthor = await actorAuthor(lookups, tx, ctx.actor, "Ticket Filter");
      for (const data of described)
        events.push({ ...snapshot(0, 0), state: "edited", data: { ...data }, author: filterAuthor });
    }
  }
  if (closing) {
    events.push({
      ...snapshot(closingStaffId, 0),
      state: "closed",
      data: { status: [statusId, status?.name ?? ""] },
      author: actorAuthorRow,
    });
  }
  if (assignedStaff) {
    const filterAuthor = await actorAuthor(lookups, tx, ctx.actor, "Ticket Filter");
    events.push({
      ...snapshot(assignedStaff.id, 0),
      state: "assigned",
      data: actingStaffId === assignedStaff.id ? { claim: true } : { staff: assignedStaff.id },
      author: filterAuthor,
    });
  }
  if (assignedTeamId) {
    events.push({
      ...snapshot(assignedStaff?.id ?? 0, assignedTeamId),
      state: "assigned",
      data: { team: assignedTeamId },
      author: await actorAuthor(lookups, tx, ctx.actor, "Ticket Filter"),
    });
  }
  await logEvents(tx, lookups, events, ctx.threadEventLogged);
  if (closing && actorStaff && config.autoReferClosed) {
    tx.later(
      "INSERT IGNORE INTO ost_thread_referral (thread_id, object_id, object_type, created) VALUES (?, ?, 'S', NOW())",
      [threadId, actorStaff.id],
    );
  }

  const importErrorNotes: number[] = [];
  for (const failure of input.fileImportErrors ?? [])
    importErrorNotes.push(await insertFileImportErrorNote(tx, threadId, failure));

  // First message (ORIGINAL_MESSAGE; poster = the stored user name) with the recipients it names. The staff
  // panel's and the client portal's forms post their fields under hashed names, so Ticket::create finds no
  // `subject` to title the message with (NULL); the portal posts no `source` either ('').
  const formPosted = !legacy && (origin === "web" || origin === "staff");
  const notice = ticketNoticeOf(ctx, origin, input);
  const entry = await insertThreadEntry(tx, {
    recipients: await firstMessageRecipients(ctx, {
      origin,
      notice,
      threadId,
      userId,
      ccUserIds: collaboratorUsers.map((c) => c.id),
      collaboratorsAdded,
    }),
    threadId,
    type: "M",
    pid: 0,
    staffId: 0,
    userId,
    poster: truncate(posterName, 128),
    source: formPosted && origin === "web" ? "" : truncate(source, 32),
    title: formPosted ? null : cleanTitle(input.subject ?? "", ctx.htmlPolicy),
    body,
    format: messageFormat,
    ipAddress,
    flags: EntryFlag.ORIGINAL_MESSAGE,
    attachments: input.attachments ?? [],
  });
  if (entry.searchRow) searchRows.push(entry.searchRow);

  // The canned response (Ticket::postCannedReply) a filter chose, else the request's, posted after the
  // message, the filters' post-create pass and the assignment, when it exists and is enabled.
  const cannedId = overrides.cannedResponseId ?? input.cannedResponseId;
  const canned = cannedId ? await enabledCannedResponse(tx, cannedId) : undefined;
  if (!canned && cannedId && cannedId === input.cannedResponseId && !input.legacy)
    throw new TicketValidationError([
      { key: "cannedResponseId", message: `No enabled canned response has id ${cannedId}` },
    ]);
  let cannedReply: { entryId: number; autorespond: boolean } | undefined;
  if (canned) {
    const richText = config.flag("enable_richtext");
    const helpdeskUrl = config.get("helpdesk_url") ?? "";
    const stored = await cannedTicketData(tx, canned.response, { ticketId, userId, threadId });
    const variables = {
      ticketId,
      number,
      subject: cdata.get("subject") ?? "",
      ownerName: posterName,
      ownerEmail,
      source: ticketSourceEnum(ticketSource) || ticketSource,
      deptName: dept?.name ?? "",
      topicName,
      statusName: status?.name ?? "",
      priorityDesc: priority.value ?? "",
      slaName: slaId ? ((await lookups.sla(slaId))?.name ?? "") : "",
      staffName: finalStaffId
        ? (await lookups.staff(finalStaffId).then((s) => s && `${s.firstname} ${s.lastname}`)) || ""
        : "",
      teamName: !closing && assignedTeamId ? ((await lookups.team(assignedTeamId))?.name ?? "") : "",
      created: ctx.now,
      dueEpoch: estDueEpoch,
      closedEpoch: closing ? ctx.now : null,
      helpdeskUrl,
      companyName: /(?:%\{|%%7B)company/.test(canned.response) ? await companyName(tx) : "",
      dateTimePattern: dateTimePattern(config.get("date_formats") ?? "", config.get("datetime_format") ?? ""),
      timeZone: config.defaultTimezone,
      ...(stored ? { stored } : {}),
    };
    const filled = replaceCannedVariables(canned.response, variables);
    const format: BodyFormat = richText ? "html" : "text";
    const reply = await insertThreadEntry(tx, {
      recipients: null,
      threadId,
      type: "R",
      pid: entry.id,
      staffId: actorStaff?.id ?? 0,
      userId: 0,
      poster: CANNED_REPLY_POSTER,
      source: "",
      title: null,
      body: storedBody(
        cleanBodyContent(richText ? filled : cannedPlainText(filled), format, { policy: ctx.htmlPolicy }),
      ),
      format,
      // Ticket::postReply's $_SERVER['REMOTE_ADDR']: the HTTP client's address.
      ipAddress: truncate(input.remoteAddress ?? input.ipAddress ?? "", 64),
    });
    linkCannedFiles(tx, reply.id, canned.files);
    if (reply.searchRow) searchRows.push(reply.searchRow);
    // onResponse answers the ticket and postCannedReply marks it unanswered again: isanswered stays 0.
    tx.later("UPDATE ost_thread SET lastresponse = NOW() WHERE id = ?", [threadId]);
    // Only the auto-response the request, the filters, the mailbox and the help topic left on (not the
    // helpdesk's or the department's switch) e-mails it; an agent's ticket never does (Ticket::open).
    const requested = !notice && origin !== "staff" && (overrides.autorespond ?? input.autorespond ?? true);
    const mailbox = input.emailId ? await lookups.systemEmail(input.emailId) : undefined;
    const autorespond =
      requested &&
      !mailbox?.noAutoResponse &&
      !topic?.noAutoResponse &&
      !(await tx.first("SELECT email_id FROM ost_email WHERE email = ? LIMIT 1", [ownerEmail]));
    cannedReply = { entryId: reply.id, autorespond };
  }
  searchRows.push(ticketSearchRow(ticketId, number, searchAnswers, dates));
  await replaceSearchRows(tx, searchRows);

  const result: CreateTicketResult = {
    ticketId,
    number,
    threadId,
    messageEntryId: entry.id,
    userId,
    userCreated,
    statusId,
    deptId,
    topicId,
    slaId,
    staffId: finalStaffId,
    teamId: closing ? 0 : assignedTeamId,
    estDueEpoch,
    collaboratorsAdded,
  };
  await ctx.emit({
    type: "ticket.created",
    ticketId,
    number,
    actor: ctx.actor,
    threadId,
    messageEntryId: entry.id,
    userId,
    userCreated,
    deptId,
    topicId,
    statusId,
    staffId: result.staffId,
    teamId: result.teamId,
    source: ticketSourceEnum(ticketSource) || ticketSource,
    alert: input.alert ?? true,
    // An agent's notice is the requester's notice: "Do Not Send Alert" withholds it.
    // A canned reply takes the new-ticket auto-response's place (postCannedReply, then `$autorespond = false`).
    autorespond: notice
      ? notice !== "none"
      : !cannedReply && (overrides.autorespond ?? input.autorespond ?? true),
    ...(notice ? { ticketNotice: notice } : {}),
    ...(cannedReply
      ? { cannedReplyEntryId: cannedReply.entryId, cannedReplyAutorespond: cannedReply.autorespond }
      : {}),
    ...(emailsOfFilters.length ? { filterEmails: emailsOfFilters } : {}),
  });
  if (cannedReply)
    await ctx.emit({
      type: "ticket.response.posted",
      ticketId,
      number,
      actor: ctx.actor,
      entryId: cannedReply.entryId,
      staffId: actorStaff?.id ?? 0,
      // postReply($info, $errors, $alert = false): nobody is e-mailed the response as a reply.
      notify: false,
    });
  for (const entryId of importErrorNotes)
    await ctx.emit({
      type: "ticket.note.posted",
      ticketId,
      number,
      actor: SYSTEM_ACTOR,
      entryId,
      staffId: 0,
      title: "File Import Error",
    });
  return result;
}

/**
 * The "Ticket Notice" in effect: only an agent's ticket from the staff panel has one, and only while
 * `ticket_notice_active` is on (the panel offers the choice then; Ticket::open sends no notice otherwise).
 * Without an explicit choice, `autorespond` false is "Do Not Send Alert", anything else "Alert All".
 */
function ticketNoticeOf(
  ctx: UseCaseContext,
  origin: string,
  input: CreateTicketInput,
): TicketNotice | undefined {
  if (origin !== "staff" || ctx.actor.kind !== "staff" || !ctx.config.flag("ticket_notice_active"))
    return undefined;
  return input.ticketNotice ?? ((input.autorespond ?? true) ? "all" : "none");
}

/**
 * The recipients Ticket::postMessage records on the first message. An agent's ticket from the staff panel
 * names them with its "Ticket Notice" (Ticket::getRecipients(reply-to, ccs)): "Alert All" is the owner
 * under `to` and the active collaborators of its Cc list (all of them without one) under `cc`; "Alert to
 * User" the owner alone; "Do Not Send Alert" records none. Without a notice every origin but e-mail lists
 * the active collaborators, the poster (the owner) left out. E-mail records the mail's own addressees (the
 * e-mail channel writes them).
 */
async function firstMessageRecipients(
  ctx: UseCaseContext,
  message: {
    origin: string;
    notice: TicketNotice | undefined;
    threadId: number;
    userId: number;
    ccUserIds: readonly number[];
    /** Collaborators the ticket got (a new thread has no others to list). */
    collaboratorsAdded: number;
  },
): Promise<RecipientList | null> {
  const { origin, notice, threadId, userId } = message;
  if (origin === "email" || notice === "none") return null;
  if (!notice && !message.collaboratorsAdded) return null;
  const list = notice
    ? await ticketRecipients(ctx.tx, { threadId, userId }, notice, 0, message.ccUserIds)
    : await ticketRecipients(ctx.tx, { threadId, userId }, "all", userId);
  return Object.keys(list).length ? list : null;
}

/**
 * The data the ticket filters match on (filterTicketData + TicketFilter::__construct): `body` the message as
 * given; the ticket form's and the help topic's forms' answers as `field.<id>` (the priority field as the
 * priority's name, see priorityFilterData); the requester's `name` and `email` (a known user's as stored,
 * else the contact form's), and for a requester who is no user yet the contact form's answers as
 * `field.<id>`; the `stored` answers of a known user, then of the organization (the user's, else the one
 * the new requester's domain maps to), where no earlier data has that key (PHP's `+=`); `topicId` and
 * `emailId` as given; for a mail, `reply-to`, `reply-to-name` and `addressee` (each To and Cc addressee's
 * name and address, joined by spaces, untrimmed). All others trimmed.
 */
function ticketFilterVars(
  input: CreateTicketInput,
  known: {
    user: ExistingUser | undefined;
    contactForm: FormDefinition | undefined;
    ticketInstance: FormInstance;
    topicInstances: readonly FormInstance[];
    vars: Readonly<Record<string, string | undefined>>;
    stored: { user: StoredFilterData; org: StoredFilterData } | undefined;
    priorityData: string | undefined;
    /** How the ticket form's and the other forms' answers are read. */
    answers: { ticket: AnswerContext; other: AnswerContext };
    /** The request's selected list items' filter data, when a rule names a list answer's sub-field. */
    requestItems: ReadonlyMap<number, ItemData> | undefined;
  },
): FilterVars {
  const { user, contactForm, ticketInstance, topicInstances, vars, stored } = known;
  const data: Record<string, string | undefined> = {};
  // The field's toString of its clean value: a phone number shown as PhoneField formats it, a list answer
  // as its items' values (SelectionField::toString).
  const answer = (field: FormField, raw: string | undefined, context: AnswerContext) => {
    const clean = parseAnswer(field, raw, context) ?? "";
    const selection = listIdOf(field) === undefined ? undefined : listSelection(clean);
    if (selection) return phpTrim([...selection.values()].join(", "));
    return phpTrim(field.type === "phone" ? formatPhone(clean, field.configuration.format ?? "us") : clean);
  };
  for (const instance of [ticketInstance, ...topicInstances]) {
    const context = instance === ticketInstance ? known.answers.ticket : known.answers.other;
    for (const field of instance.form.fields) {
      if (!isEnabled(field) || instance.disabled.has(field.id) || !hasData(field)) continue;
      if (field.type === "thread") continue;
      if (field.type === "priority") {
        if (known.priorityData !== undefined) data[`field.${field.id}`] = phpTrim(known.priorityData);
        continue;
      }
      const raw = field.name === "subject" && instance === ticketInstance ? input.subject : vars[field.name];
      data[`field.${field.id}`] = answer(field, field.name ? raw : undefined, context);
    }
    if (known.requestItems)
      for (const [fieldId, itemIds] of requestListSelections(instance, vars, context))
        listSubFieldData(`field.${fieldId}`, itemIds, known.requestItems, data);
  }
  if (user) {
    data.email = phpTrim(user.email);
    data.name = phpTrim(user.name);
  } else {
    for (const field of contactForm?.fields ?? []) {
      if (!isEnabled(field) || !hasData(field)) continue;
      const value = answer(field, field.name ? vars[field.name] : undefined, known.answers.other);
      data[`field.${field.id}`] = value;
      if (field.name === "email" || field.name === "name") data[field.name] = value;
    }
  }
  for (const [key, value] of Object.entries({ ...stored?.org, ...stored?.user })) {
    if (!(key in data)) data[key] = phpTrim(value);
  }
  if (input.topicId !== undefined) data.topicId = phpTrim(String(input.topicId));
  if (input.emailId !== undefined) data.emailId = String(input.emailId);
  if (input.replyTo) {
    data["reply-to"] = phpTrim(input.replyTo.email);
    if (phpTruthyString(input.replyTo.name)) data["reply-to-name"] = phpTrim(input.replyTo.name ?? "");
  }
  if (input.recipients?.length) data.addressee = input.recipients.flatMap((r) => [r.name, r.email]).join(" ");
  data.body = input.message;
  return data;
}

/** The item ids each list answer of a request form selects, by field id, as the filters read them. */
function requestListSelections(
  instance: FormInstance,
  vars: Readonly<Record<string, string | undefined>>,
  context: AnswerContext,
): Map<number, number[]> {
  const selections = new Map<number, number[]>();
  for (const field of instance.form.fields) {
    if (!isEnabled(field) || instance.disabled.has(field.id) || listIdOf(field) === undefined) continue;
    const selection = listSelection(parseAnswer(field, field.name ? vars[field.name] : undefined, context));
    if (selection?.size) selections.set(field.id, [...selection.keys()].map(Number));
  }
  return selections;
}

/**
 * The ticket form's priority field as its getFilterData gives it (PriorityField::toString of the parsed
 * answer): a priority id names the priority's description, an id of no priority nothing, any other text
 * itself. Undefined when no priority was given.
 */
async function priorityFilterData(
  ctx: UseCaseContext,
  raw: number | string | undefined,
): Promise<string | undefined> {
  if (raw === undefined || raw === "") return undefined;
  const text = String(raw);
  if (!isNumeric(text)) return text;
  return (await ctx.lookups.priority(phpInt(text)))?.desc;
}

/** An organization's members (Organization::allMembers), by id, with what collaborators need. */
async function organizationMembers(
  tx: UseCaseContext["tx"],
  orgId: number,
): Promise<{ id: number; name: string; email: string; status: number }[]> {
  const rows = await tx.all(
    "SELECT u.id, u.name, u.status, e.address FROM ost_user u" +
      " LEFT JOIN ost_user_email e ON e.id = u.default_email_id WHERE u.org_id = ? ORDER BY u.id",
    [orgId],
  );
  return rows.map((r) => ({
    id: int(r, "id"),
    name: str(r, "name"),
    email: str(r, "address"),
    status: int(r, "status"),
  }));
}

/**
 * Creates the requester; when a concurrent request created the same address first (duplicate key on
 * ost_user_email.address), that user is reused, as osTicket reuses a user it finds by e-mail.
 */
async function createUserOrReuse(
  ctx: UseCaseContext,
  contactForm: FormDefinition | undefined,
  user: Parameters<typeof createUser>[2],
): Promise<{ id: number; name: string; email: string; created: boolean; searchRow?: SearchRow }> {
  try {
    return { ...(await createUser(ctx.tx, contactForm, user)), created: true };
  } catch (error) {
    if (!isRecord(error) || error.errno !== ER_DUP_ENTRY) throw error;
    const existing = await findUserByEmail(ctx.tx, user.email, { locking: true });
    if (!existing) throw error;
    return { id: existing.id, name: existing.name, email: existing.email, created: false };
  }
}

const ER_DUP_ENTRY = 1062;

/** A collaborator of the new ticket: an existing user, or an end user to create with it. */
type CollaboratorSlot =
  | { readonly id: number; readonly name: string; readonly email: string }
  | { readonly newUser: NewUserCandidate };

/**
 * The typed Cc list (CreateTicketInput.collaboratorAddresses) as collaborators, in request order; problems
 * are added to `issues` under `collaborators[<i>].<field>`. `requesterEmail` is the address of a requester
 * created with the ticket (an existing owner is skipped by id when the collaborators are added).
 */
async function resolveCollaboratorAddresses(
  ctx: UseCaseContext,
  input: CreateTicketInput,
  contactForm: FormDefinition | undefined,
  issues: Issues,
  requesterEmail: string,
): Promise<CollaboratorSlot[]> {
  const slots: CollaboratorSlot[] = [];
  const seen = new Set<string>();
  const fold = (address: string) => address.toLowerCase();
  if (requesterEmail) seen.add(fold(requesterEmail));
  for (const [i, given] of (input.collaboratorAddresses ?? []).entries()) {
    const key = `collaborators[${i}]`;
    const address = phpTrim(given.email);
    const existing = address ? await findUserByEmail(ctx.tx, address) : undefined;
    if (existing) {
      slots.push({ id: existing.id, name: existing.name, email: existing.email });
      continue;
    }
    if (seen.has(fold(address))) continue;
    if (!input.createCollaborators) {
      issues.set(
        `${key}.email`,
        address ? `no end user has the address ${address}` : "an address is required",
      );
      continue;
    }
    // The "Add New" user dialog (ajax.users.php addUser) refuses an agent without user.create before it
    // looks at the form.
    if (input.mayCreateUsers === false) {
      issues.set(`${key}.email`, USER_CREATE_DENIED);
      seen.add(fold(address));
      continue;
    }
    // User::fromForm as the staff panel runs it: fields visible to or required for agents are checked.
    const checked = await checkContactForm(
      ctx,
      contactForm,
      { email: address, name: given.name },
      (f) => isVisibleToStaff(f) || isRequiredForStaff(f),
      isRequiredForStaff,
    );
    for (const error of checked.errors) {
      const field = error.field === "email" || error.field === "name" ? `${key}.${error.field}` : key;
      if (!issues.has(field)) issues.set(field, error.message);
    }
    if (checked.errors.length) continue;
    seen.add(fold(checked.user.email));
    slots.push({ newUser: checked.user });
  }
  return slots;
}

/**
 * The role Ticket::open checks: Staff::getRole for the department the request names (`$vars['deptId']` as
 * posted, before Ticket::create resolves a help topic's or the default department), null when none is named
 * or Dept::lookup finds none. In a department where the agent has no role, osTicket makes up a new Role
 * holding ticket.create alone ("Ticket Create & View only access"), and as a new model (`__new__`) it also
 * lets the agent assign.
 */
async function roleInChosenDept(
  ctx: UseCaseContext,
  input: CreateTicketInput,
  roles: ReadonlyMap<number, readonly string[]>,
): Promise<{ permissions: readonly string[]; synthetic: boolean } | null> {
  if (!input.deptId || !(await ctx.lookups.department(input.deptId))) return null;
  const permissions = roles.get(input.deptId);
  return permissions
    ? { permissions, synthetic: false }
    : { permissions: ["ticket.create"], synthetic: true };
}

/**
 * Ticket::open's requester checks (the staff panel posts no `uid` for a requester who is no user yet): an
 * address Validator::is_email accepts ("Valid email address is required") and a name ("Name is required").
 * A requester found by address counts as selected, as the panel posts the selected user's id.
 */
async function staffPanelRequesterChecks(
  ctx: UseCaseContext,
  input: CreateTicketInput,
  issues: Issues,
): Promise<void> {
  const email = phpTrim(input.requester.email ?? "");
  const valid = isEmailAddress(email);
  if (valid && (await findUserByEmail(ctx.tx, email))) return;
  if (!valid) issues.set("email", "Valid email address is required");
  if (!phpTruthyString(input.requester.name)) issues.set("name", "Name is required");
}

async function openTicketCount(ctx: UseCaseContext, userId: number): Promise<number> {
  const row = await ctx.tx.first(
    "SELECT COUNT(*) AS n FROM ost_ticket t JOIN ost_ticket_status s ON s.id = t.status_id WHERE t.user_id = ? AND s.state = 'open'",
    [userId],
  );
  return row ? int(row, "n") : 0;
}

/**
 * Validates the contact form for a requester who is not a user yet (UserForm + User::fromVars). Returns
 * the user to create, or undefined for osTicket's "Incomplete client information".
 */
async function validateNewUser(
  ctx: UseCaseContext,
  contactForm: FormDefinition | undefined,
  vars: Readonly<Record<string, string | undefined>>,
  validates: (f: FormField) => boolean,
  required: (f: FormField) => boolean,
  answers: AnswerContext,
): Promise<NewUserCandidate | undefined> {
  if (vars.email === undefined) return undefined;
  const checked = await checkContactForm(ctx, contactForm, vars, validates, required, answers);
  return checked.errors.length ? undefined : checked.user;
}

interface NewUserCandidate {
  readonly email: string;
  readonly name: string;
  readonly answers: Map<string, string | null>;
}

/**
 * The contact form (UserForm) over `vars` as User::fromForm / User::fromVars check it: each validated
 * field's messages by field name, an address that is not one valid mailbox (Validator::is_email) or whose
 * domain fails `verify_email_addrs` under `email`; and the user those values make. List and date answers are
 * read as the contact form's fields read them (`answerContext`: the request's list items and date rules).
 */
async function checkContactForm(
  ctx: UseCaseContext,
  contactForm: FormDefinition | undefined,
  vars: Readonly<Record<string, string | undefined>>,
  validates: (f: FormField) => boolean,
  required: (f: FormField) => boolean,
  answerContext: AnswerContext = {},
): Promise<{ user: NewUserCandidate; errors: { field: string; message: string }[] }> {
  const email = phpTrim(cleanTextAnswer(vars.email ?? ""));
  const answers = new Map<string, string | null>();
  const errors: { field: string; message: string }[] = [];
  let mustVerify = false;
  for (const field of contactForm?.fields ?? []) {
    if (!isEnabled(field) || !hasData(field)) continue;
    const value = parseAnswer(field, field.name ? vars[field.name] : undefined, answerContext);
    if (field.name) answers.set(field.name, value);
    if (!validates(field)) continue;
    for (const message of validateAnswer(field, value, {
      required: required(field),
      isEmail: (a) => !!emailHost(a),
    })) {
      errors.push({ field: field.name, message });
    }
    if (field.type === "text" && field.configuration.validator === "email" && value) mustVerify = true;
  }
  // User::fromVars creates a user only for a syntactically valid address.
  const host = emailHost(email);
  const INVALID = "Enter a valid email address";
  const emailInvalid = () => {
    if (!errors.some((e) => e.field === "email" && e.message === INVALID))
      errors.push({ field: "email", message: INVALID });
  };
  if (!host) emailInvalid();
  else if (!errors.length && mustVerify && ctx.config.verifyEmailAddresses) {
    if (!(await ctx.verifyMailDomain(host))) emailInvalid();
  }
  return { user: { email, name: normalizeUserName(vars.name, email), answers }, errors };
}
