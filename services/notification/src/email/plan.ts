import { createHash } from "node:crypto";
import { type EntityManager, query, type Row } from "@ostmesh/db";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin, MessageFormat, TicketSource } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import type {
  Event,
  FilterEmail,
  TicketAssigned,
  TicketTransferred,
} from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import {
  type ThreadEntry,
  ThreadEntryType,
  TicketNotice,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import addressparser from "nodemailer/lib/addressparser";
import { loadEntry, loadTicketRow, num, str } from "../osticket/reads.ts";
import { formatIcuDate } from "./dates.ts";
import {
  type Agent,
  ALERTS_DISABLED,
  activeCollaborators,
  activeCollaboratorUsers,
  agentsById,
  type Department,
  departmentAlertMembers,
  entryMessageId,
  firstMessageId,
  isSystemAddress,
  lastRespondent,
  loadDepartment,
  type Mailbox,
  type Participant,
  SLA_NOALERTS,
  slaFlags,
  systemEmail,
  teamAlertMembers,
  teamLead,
  topicNoAutoResponse,
} from "./directory.ts";
import {
  osTicketMessageId,
  type RecipientClass,
  stableRandomPart,
  withMessageIdMarker,
} from "./message-id.ts";
import { type AlertSettings, loadAlertSettings } from "./settings.ts";
import {
  type EmailTemplate,
  entryHtml,
  loadTemplate,
  renderTemplate,
  type TemplateValue,
  type TemplateVariables,
} from "./templates.ts";
import { loadTicketLinks, type TicketLinks } from "./ticket-links.ts";

/**
 * What osTicket would e-mail for an event, decided with osTicket's own rules (Ticket::onNewTicket,
 * postMessage, postReply, postNote, onOverdue, onAssign, transfer) and settings, rendered from its templates. Only changes made
 * through ostmesh are e-mailed: osTicket's PHP side sends its own for the changes it makes.
 */
export interface PlannedEmail {
  /** ost_email_template.code_name. */
  readonly template: string;
  readonly to: Mailbox;
  readonly cc: readonly Mailbox[];
  readonly from: Mailbox;
  readonly subject: string;
  readonly html: string;
  /** Stable per (event, template, recipient): a re-sent e-mail keeps its Message-ID. */
  readonly messageId: string;
  readonly inReplyTo: string | undefined;
  readonly references: readonly string[];
  readonly ticketId: number;
  /** osTicket files the e-mail carries; their bytes are read from ost_file_chunk when it is sent. */
  readonly files: readonly PlannedFile[];
}

/** An ost_file attached to an e-mail under the name its ost_attachment row gives it ("" keeps the file's own). */
export interface PlannedFile {
  readonly fileId: number;
  readonly name: string;
}

export interface PlanOptions {
  /**
   * osTicket's SECRET_SALT (include/ost-config.php). With it, e-mails carry osTicket's own signed Message-IDs
   * and the In-Reply-To / References its mailer gives each kind of mail, so replies thread as osTicket
   * threads them; without it, ostmesh's ids and headers.
   */
  readonly secretSalt?: string | undefined;
}

interface Context {
  readonly em: EntityManager;
  readonly event: Event;
  readonly ticket: Row;
  readonly settings: AlertSettings;
  readonly dept: Department;
  readonly domain: string;
  readonly salt: string | undefined;
  /** ostmesh's own threading (no salt): the ticket's first e-mailed message, then the entry's. */
  readonly threading: { readonly references: string[] };
  readonly base: Record<string, TemplateValue>;
  /** The end users' %{recipient.ticket_link}s. */
  readonly links: TicketLinks;
}

/** Who an e-mail goes to, as osTicket's mailer classes its recipient (Staff, TicketOwner, Collaborator, a list). */
interface Addressee {
  readonly userClass: RecipientClass;
  /** Staff id for S, user id for U and C, 0 otherwise. */
  readonly id: number;
}

/**
 * Mailer::send's `thread` option: the thread entry (and its thread), or only the thread, an e-mail is about,
 * and the e-mailed message it answers (In-Reply-To and References in osTicket's mode).
 */
interface MailThread {
  readonly entryId: number;
  readonly threadId: number;
  readonly answers: string | undefined;
}

const NO_THREAD: MailThread = { entryId: 0, threadId: 0, answers: undefined };

export async function planEmails(
  em: EntityManager,
  event: Event,
  options: PlanOptions = {},
): Promise<PlannedEmail[]> {
  if (event.origin === EventOrigin.OSTICKET) return [];
  const ticketId = event.ticket?.ticketId || event.aggregate?.id || 0;
  if (!ticketId) return [];
  const ticket = await loadTicketRow(em, ticketId);
  if (!ticket) return [];
  const settings = await loadAlertSettings(em);
  const dept = await loadDepartment(em, num(ticket.dept_id));
  if (!dept) return [];
  const domain = mailDomain(settings);
  const firstId = await firstMessageId(em, num(ticket.thread_id));
  const firstMid = await entryMessageId(em, firstId);
  const ctx: Context = {
    em,
    event,
    ticket,
    settings,
    dept,
    domain,
    salt: options.secretSalt || undefined,
    threading: { references: [firstMid ?? `<ostmesh.ticket.${ticketId}@${domain}>`] },
    base: await ticketVariables(em, ticket, dept, settings),
    links: await loadTicketLinks(
      em,
      ticketId,
      settings.helpdeskUrl,
      settings.flag("allow_auth_tokens"),
      options.secretSalt || undefined,
    ),
  };
  const p = event.payload;
  switch (p.case) {
    case "ticketCreated": {
      const message = await fullEntry(em, p.value.message, firstId);
      const staffOpened = event.actor?.kind === PrincipalKind.AGENT;
      // An agent's "Ticket Notice": "Alert to User" leaves the collaborators out; "Alert All" (also what an
      // agent's autorespond meant in events without the choice) copies them. "Do Not Send Alert" comes
      // with autorespond false.
      const copyCollaborators = staffOpened && p.value.ticketNotice !== TicketNotice.USER;
      // Ticket::create: the filters' e-mails (post-create pass), the canned reply, then Ticket::onNewTicket.
      return [
        ...(await filterActionEmails(ctx, p.value.filterEmails)),
        ...(p.value.cannedReplyEntryId && p.value.cannedReplyAutorespond && !staffOpened
          ? await cannedAutoReply(ctx, p.value.cannedReplyEntryId, message)
          : []),
        ...(p.value.autorespond ? await newTicketNotice(ctx, message, staffOpened, copyCollaborators) : []),
        ...(p.value.alert ? await newTicketAlerts(ctx, message) : []),
      ];
    }
    case "threadEntryAdded": {
      const entry = await fullEntry(em, p.value.entry, 0);
      if (!entry) return [];
      const mid = await entryMessageId(em, entry.id);
      if (mid && !ctx.threading.references.includes(mid)) ctx.threading.references.push(mid);
      switch (entry.type) {
        case ThreadEntryType.MESSAGE:
          // Ticket::postMessage: a bounce or an auto-reply alerts nobody and gets no auto-response (mail loops).
          if (p.value.bounceOrAutoReply) return [];
          return [
            ...(await messageAlerts(ctx, entry)),
            ...(await messageAutoResponse(ctx, entry)),
            // A message that came by e-mail already reached the participants it was addressed to.
            ...(p.value.viaEmail || entry.source === TicketSource.EMAIL
              ? []
              : await collaboratorNotice(ctx, entry)),
          ];
        case ThreadEntryType.RESPONSE:
          // Ticket::postReply: the agents hear of the response (onResponse) whether or not the user is e-mailed.
          return [
            ...(p.value.notify ? await replyNotice(ctx, entry) : []),
            ...(await activityAlerts(ctx, entry, "New Response")),
          ];
        case ThreadEntryType.NOTE:
          return await activityAlerts(ctx, entry, "New Internal Note");
        default:
          return [];
      }
    }
    case "ticketOverdue":
      return await overdueAlerts(ctx);
    case "ticketAssigned":
      return await assignedAlerts(ctx, p.value);
    case "ticketTransferred":
      return await transferAlerts(ctx, p.value);
    default:
      return [];
  }
}

/**
 * The entry with its body: events may carry a summary only, or leave a large body out (body_omitted), and
 * osTicket's own long bodies live in files.
 */
async function fullEntry(
  em: EntityManager,
  entry: ThreadEntry | undefined,
  fallbackId: number,
): Promise<ThreadEntry | undefined> {
  if (entry && !entry.bodyOmitted && (entry.body !== "" || entry.bodyInAttachment)) return entry;
  const id = entry?.id || fallbackId;
  return id ? await loadEntry(em, id) : undefined;
}

function mailDomain(settings: AlertSettings): string {
  try {
    const host = new URL(settings.helpdeskUrl).hostname;
    if (host && host !== "localhost" && !/^[\d.]+$/.test(host) && !host.includes(":")) return host;
  } catch {
    // not a URL: fall through
  }
  const fromAdmin = settings.adminEmail.split("@")[1];
  return fromAdmin || "ostmesh.invalid";
}

function joinUrl(base: string, path: string): string {
  return `${base.endsWith("/") ? base : `${base}/`}${path}`;
}

function splitName(name: string): { first: string; last: string } {
  const parts = name.trim().split(/\s+/);
  return { first: parts[0] ?? "", last: parts.slice(1).join(" ") };
}

/** A date column as osTicket prints it in e-mails (FormattedDate: the helpdesk's pattern and zone). */
function formatDate(seconds: unknown, settings: AlertSettings): string {
  return formatIcuDate(num(seconds), settings.dateTimePattern, settings.timeZone);
}

async function ticketVariables(
  em: EntityManager,
  ticket: Row,
  dept: Department,
  settings: AlertSettings,
): Promise<Record<string, TemplateValue>> {
  const owner = str(ticket.user_name);
  const ownerName = splitName(owner);
  const [manager] = await agentsById(em, [dept.managerId]);
  const staff =
    str(ticket.staff_first) || str(ticket.staff_last)
      ? `${str(ticket.staff_first)} ${str(ticket.staff_last)}`.trim()
      : "";
  return {
    // A ticket prints itself as its number (Ticket::asVar).
    ticket: str(ticket.number),
    "ticket.id": str(ticket.ticket_id),
    "ticket.number": str(ticket.number),
    "ticket.subject": str(ticket.subject),
    "ticket.name": owner,
    "ticket.name.first": ownerName.first,
    "ticket.name.last": ownerName.last,
    "ticket.email": str(ticket.user_email),
    "ticket.status.name": str(ticket.status_name),
    "ticket.priority.name": str(ticket.priority_name),
    "ticket.dept.name": dept.name,
    "ticket.dept.manager.name": manager?.name ?? "",
    "ticket.topic.name": str(ticket.topic_name),
    "ticket.sla.name": str(ticket.sla_name),
    "ticket.staff.name": staff,
    "ticket.team.name": str(ticket.team_name),
    "ticket.assigned": staff || str(ticket.team_name),
    "ticket.source": str(ticket.source),
    "ticket.create_date": formatDate(ticket.created, settings),
    "ticket.due_date": formatDate(num(ticket.duedate) || num(ticket.est_duedate), settings),
    "ticket.close_date": formatDate(ticket.closed, settings),
    "ticket.staff_link": joinUrl(settings.helpdeskUrl, `scp/tickets.php?id=${num(ticket.ticket_id)}`),
    "ticket.client_link": clientLink(settings, ticket),
    url: settings.helpdeskUrl,
    "company.name": settings.companyName,
    signature: dept.isPublic ? { html: dept.signature } : "",
  };
}

/** Ticket::getVar('client_link'): the client portal's page for the ticket's number. */
function clientLink(settings: AlertSettings, ticket: Row): string {
  const params = new URLSearchParams({ t: str(ticket.number) });
  return joinUrl(settings.helpdeskUrl, `view.php?${params.toString()}`);
}

function recipientVariables(
  ctx: Context,
  who: Mailbox,
  kind: "agent" | "owner" | "collaborator",
): TemplateVariables {
  const name = splitName(who.name);
  return {
    "recipient.name": who.name,
    "recipient.name.first": name.first,
    "recipient.name.last": name.last,
    "recipient.email": who.address,
    "recipient.ticket_link":
      kind === "agent"
        ? ctx.base["ticket.staff_link"]
        : kind === "owner"
          ? ctx.links.owner
          : ctx.links.collaborator,
  };
}

function entryVariable(entry: ThreadEntry | undefined): TemplateValue {
  if (!entry) return "";
  return entryHtml(entry.body, entry.format === MessageFormat.TEXT ? "text" : "html");
}

async function fromMailbox(ctx: Context, emailId: number): Promise<Mailbox | undefined> {
  const chosen =
    (await systemEmail(ctx.em, emailId)) ?? (await systemEmail(ctx.em, ctx.settings.defaultEmailId));
  return chosen ? { address: chosen.address, name: chosen.name || ctx.settings.helpdeskTitle } : undefined;
}

/**
 * Dept::getAlertEmail, the sender of the new-ticket, new-message, assignment, transfer and overdue alerts:
 * the department's e-mail, else the default one (only the activity alert uses the alert e-mail setting).
 */
async function departmentAlertMailbox(ctx: Context): Promise<Mailbox | undefined> {
  return fromMailbox(ctx, ctx.dept.emailId);
}

async function template(ctx: Context, codeName: string): Promise<EmailTemplate | undefined> {
  return loadTemplate(ctx.em, ctx.dept.tplId, ctx.settings.defaultTemplateId, codeName);
}

/**
 * Stable per (event, template, recipient), so a re-planned e-mail keeps its id: osTicket's signed format when the
 * salt is known (its random part derived from the same key), else ostmesh's own.
 */
function messageIdFor(
  ctx: Context,
  template: string,
  to: Mailbox,
  from: Mailbox,
  addressee: Addressee,
  thread: MailThread,
): string {
  const key = `${ctx.event.id}\u0000${template}\u0000${to.address.toLowerCase()}`;
  if (ctx.salt)
    return osTicketMessageId(ctx.salt, {
      uid: addressee.id,
      entryId: thread.entryId,
      threadId: thread.threadId,
      userClass: addressee.userClass,
      random: stableRandomPart(key),
      sender: from.address,
    });
  const hash = createHash("sha256").update(key).digest("hex").slice(0, 32);
  return `<ostmesh.${hash}@${ctx.domain}>`;
}

function compose(
  ctx: Context,
  tpl: EmailTemplate,
  to: Mailbox,
  from: Mailbox,
  variables: TemplateVariables,
  about: { readonly addressee: Addressee; readonly thread: MailThread },
  cc: readonly Mailbox[] = [],
): PlannedEmail {
  const rendered = renderTemplate(tpl, { ...ctx.base, ...variables });
  // osTicket answers the e-mailed message with In-Reply-To and References both naming it (getEmailReferences
  // looks for 'References' in a header map whose names are lower-cased, so it only ever adds the mid).
  const references = ctx.salt
    ? about.thread.answers
      ? [about.thread.answers]
      : []
    : [...ctx.threading.references];
  const messageId = messageIdFor(ctx, tpl.codeName, to, from, about.addressee, about.thread);
  // Mailer::send marks a mail about a thread entry with its Message-ID in a hidden div (with the salt only:
  // ostmesh's own ids name nothing a reply could be threaded by).
  const replyTag = ctx.settings.flag("strip_quoted_reply") ? `${ctx.settings.replySeparator}<br/><br/>` : "";
  return {
    template: tpl.codeName,
    to,
    cc,
    from,
    subject: rendered.subject,
    html:
      ctx.salt && about.thread.entryId
        ? withMessageIdMarker(rendered.html, messageId, replyTag)
        : rendered.html,
    messageId,
    inReplyTo: references.at(-1),
    references,
    ticketId: num(ctx.ticket.ticket_id),
    files: [],
  };
}

/** The thread entry an e-mail is about, in the ticket's thread. */
function aboutEntry(ctx: Context, entryId: number, answers?: string): MailThread {
  return entryId ? { entryId, threadId: num(ctx.ticket.thread_id), answers } : NO_THREAD;
}

/**
 * Thread::getLastEmailMessage's Message-ID: the newest message that came by e-mail with its headers kept (of
 * `userId` only, when given), which osTicket's mailer answers in a mail to the requester or a list.
 */
async function lastEmailedMessageId(ctx: Context, userId?: number): Promise<string | undefined> {
  if (!ctx.salt) return undefined;
  const [row] = await query(
    ctx.em,
    "SELECT e.mid FROM ost_thread_entry t JOIN ost_thread_entry_email e ON e.thread_entry_id = t.id" +
      " WHERE t.thread_id = ? AND t.type = 'M' AND t.source = 'Email' AND e.headers IS NOT NULL" +
      `${userId === undefined ? "" : " AND t.user_id = ?"} ORDER BY t.id DESC, e.id LIMIT 1`,
    userId === undefined ? [num(ctx.ticket.thread_id)] : [num(ctx.ticket.thread_id), userId],
  );
  return str(row?.mid) || undefined;
}

const LIST: Addressee = { userClass: "M", id: 0 };

function ownerAddressee(ctx: Context): Addressee {
  return { userClass: "U", id: num(ctx.ticket.user_id) };
}

/** A mail about the ticket's thread without an entry (its reply has no parent entry). */
function aboutThreadOnly(ctx: Context): MailThread {
  return { entryId: 0, threadId: num(ctx.ticket.thread_id), answers: undefined };
}

/**
 * Ticket::onNewTicket: the auto-response and the alerts are about the first message and answer it when it came
 * by e-mail; otherwise they name only the thread.
 */
async function newTicketThread(ctx: Context, message: ThreadEntry | undefined): Promise<MailThread> {
  const mid = message ? await entryMessageId(ctx.em, message.id) : undefined;
  return message && mid ? aboutEntry(ctx, message.id, mid) : aboutThreadOnly(ctx);
}

/**
 * The files of a thread entry that osTicket e-mails with it when `email_attachments` is on (ThreadEntry's
 * attachments; Mailer::send adds each under its attachment name). Inline images stay out: they belong to the
 * body. A note's files never leave the helpdesk, whichever e-mail asks for them.
 */
async function entryFiles(ctx: Context, entryId: number): Promise<PlannedFile[]> {
  if (!entryId || !ctx.settings.flag("email_attachments")) return [];
  const rows = await query(
    ctx.em,
    "SELECT a.file_id, a.name FROM ost_attachment a JOIN ost_thread_entry t ON t.id = a.object_id" +
      " WHERE a.object_id = ? AND a.type = 'H' AND a.inline = 0 AND t.type <> 'N' ORDER BY a.id",
    [entryId],
  );
  return rows.map((r) => ({ fileId: num(r.file_id), name: str(r.name) }));
}

/** Alerts to agents: one e-mail each, available agents only, each address once. */
function alertsTo(
  ctx: Context,
  tpl: EmailTemplate,
  from: Mailbox,
  recipients: readonly (Agent | undefined)[],
  variables: TemplateVariables,
  thread: MailThread,
  exclude: readonly string[] = [],
): PlannedEmail[] {
  const sent = new Set(exclude.map((a) => a.toLowerCase()));
  const out: PlannedEmail[] = [];
  for (const agent of recipients) {
    if (!agent?.available || !agent.address) continue;
    const key = agent.address.toLowerCase();
    if (sent.has(key)) continue;
    sent.add(key);
    out.push(
      compose(
        ctx,
        tpl,
        agent,
        from,
        { ...variables, ...recipientVariables(ctx, agent, "agent") },
        { addressee: { userClass: "S", id: agent.id }, thread },
      ),
    );
  }
  return out;
}

function owner(ctx: Context): Mailbox {
  return { address: str(ctx.ticket.user_email), name: str(ctx.ticket.user_name) };
}

/**
 * New-ticket auto-response to the requester, or the notice of a ticket an agent opened for them (Ticket::open
 * mails Ticket::getRecipients(reply-to): the owner, with every active collaborator on Cc for "Alert All").
 */
async function newTicketNotice(
  ctx: Context,
  message: ThreadEntry | undefined,
  staffOpened: boolean,
  copyCollaborators: boolean,
): Promise<PlannedEmail[]> {
  const { em, settings, dept, ticket } = ctx;
  const to = owner(ctx);
  if (!to.address) return [];
  if (staffOpened) {
    if (!settings.flag("ticket_notice_active")) return [];
  } else {
    if (!settings.flag("ticket_autoresponder") || !dept.ticketAutoResponse) return [];
    if (await topicNoAutoResponse(em, num(ticket.topic_id))) return [];
    const via = await systemEmail(em, num(ticket.email_id));
    if (via?.noAutoResponse) return [];
  }
  // Loop control: never auto-respond to one of the helpdesk's own mailboxes.
  if (await isSystemAddress(em, to.address)) return [];
  const tpl = await template(ctx, staffOpened ? "ticket.notice" : "ticket.autoresp");
  // Ticket::open sends an agent's notice from the department's e-mail, never its auto-response one.
  const from = await fromMailbox(ctx, staffOpened ? dept.emailId : dept.autorespEmailId || dept.emailId);
  if (!tpl || !from) return [];
  const cc = copyCollaborators
    ? (await activeCollaborators(em, num(ticket.thread_id))).filter(
        (c) => c.address && c.address.toLowerCase() !== to.address.toLowerCase(),
      )
    : [];
  // Ticket::open attaches the message's files to an agent's notice; the auto-response carries none.
  const files = staffOpened ? await entryFiles(ctx, message?.id ?? 0) : [];
  // Ticket::open mails its recipient list about the last message (else the thread), answering the newest
  // e-mailed message; Ticket::onNewTicket auto-responds to the owner as the alerts are sent.
  const about = staffOpened
    ? {
        addressee: LIST,
        thread: message ? aboutEntry(ctx, message.id, await lastEmailedMessageId(ctx)) : aboutThreadOnly(ctx),
      }
    : { addressee: ownerAddressee(ctx), thread: await newTicketThread(ctx, message) };
  return [
    {
      ...compose(
        ctx,
        tpl,
        to,
        from,
        {
          message: entryVariable(message),
          // An agent's notice is signed only as the agent chose ("mine" or "dept", Ticket::open); ostmesh's API
          // offers no such choice, so it goes unsigned as osTicket's does without one.
          ...(staffOpened ? { signature: "" } : {}),
          ...recipientVariables(ctx, to, "owner"),
        },
        about,
        cc,
      ),
      files,
    },
  ];
}

/** New Ticket Alert: department members (unassigned tickets), the manager, the administrator. */
async function newTicketAlerts(ctx: Context, message: ThreadEntry | undefined): Promise<PlannedEmail[]> {
  const { em, settings, dept, ticket } = ctx;
  if (!settings.flag("ticket_alert_active")) return [];
  const tpl = await template(ctx, "ticket.alert");
  const from = await departmentAlertMailbox(ctx);
  if (!tpl || !from) return [];
  const assigned = num(ticket.staff_id) > 0 || num(ticket.team_id) > 0;
  const [manager] = await agentsById(em, [dept.managerId]);
  const recipients: (Agent | undefined)[] = [];
  // Ticket::onNewTicket alerts members and manager only when the department has members for alerts;
  // the administrator's copy depends on the department's alert setting alone.
  const members = await departmentAlertMembers(em, dept);
  if (members.length > 0) {
    if (settings.flag("ticket_alert_dept_members") && !assigned)
      for (const m of members) if (m.id !== manager?.id) recipients.push(m);
    if (settings.flag("ticket_alert_dept_manager")) recipients.push(manager);
  }
  const variables = { message: entryVariable(message) };
  const thread = await newTicketThread(ctx, message);
  const emails = alertsTo(ctx, tpl, from, recipients, variables, thread);
  const admin = settings.adminEmail;
  if (
    settings.flag("ticket_alert_admin") &&
    admin &&
    dept.groupMembership !== ALERTS_DISABLED &&
    !emails.some((e) => e.to.address.toLowerCase() === admin.toLowerCase())
  ) {
    const to = { address: admin, name: "Admin" };
    // A bare address with the 'A' user type, which Mailer::getMessageId tags as several recipients ('M').
    emails.push(
      compose(
        ctx,
        tpl,
        to,
        from,
        { ...variables, ...recipientVariables(ctx, to, "agent") },
        { addressee: LIST, thread },
      ),
    );
  }
  return emails;
}

/**
 * Dept::getNumMembersForAlerts: a department with alerts disabled, or without available members, sends no
 * activity, assignment, overdue or transfer alerts (not even to an assignee or manager from elsewhere).
 */
async function hasAlertMembers(ctx: Context): Promise<boolean> {
  return (await departmentAlertMembers(ctx.em, ctx.dept)).length > 0;
}

async function assignees(ctx: Context): Promise<Agent[]> {
  const staffId = num(ctx.ticket.staff_id);
  if (staffId) return agentsById(ctx.em, [staffId]);
  return teamAlertMembers(ctx.em, num(ctx.ticket.team_id));
}

/** New Message Alert: last respondent, assignee (or team), department manager. */
async function messageAlerts(ctx: Context, entry: ThreadEntry): Promise<PlannedEmail[]> {
  const { em, settings, dept, ticket } = ctx;
  if (!settings.flag("message_alert_active")) return [];
  const tpl = await template(ctx, "message.alert");
  const from = await departmentAlertMailbox(ctx);
  if (!tpl || !from) return [];
  const recipients: (Agent | undefined)[] = [];
  if (settings.flag("message_alert_laststaff"))
    recipients.push(await lastRespondent(em, num(ticket.thread_id)));
  if (settings.flag("message_alert_assigned")) recipients.push(...(await assignees(ctx)));
  if (settings.flag("message_alert_dept_manager"))
    recipients.push(...(await agentsById(em, [dept.managerId])));
  // Ticket::postMessage: about the message; an alert to an agent answers nothing.
  return alertsTo(
    ctx,
    tpl,
    from,
    recipients,
    { message: entryVariable(entry), "poster.name": entry.poster || str(ticket.user_name) },
    aboutEntry(ctx, entry.id),
  );
}

/** Message Confirmation to the end user who wrote. */
async function messageAutoResponse(ctx: Context, entry: ThreadEntry): Promise<PlannedEmail[]> {
  const { em, settings, dept } = ctx;
  if (!settings.flag("message_autoresponder") || !dept.messageAutoResponse) return [];
  if (entry.userId === 0) return [];
  // Ticket::onMessage answers the owner or one of the thread's collaborators (active or not), nobody else.
  const isOwner = entry.userId === num(ctx.ticket.user_id);
  const to = isOwner
    ? owner(ctx)
    : (await isCollaborator(ctx, entry.userId))
      ? await userMailbox(ctx, entry.userId)
      : undefined;
  if (!to?.address || (await isSystemAddress(em, to.address))) return [];
  const tpl = await template(ctx, "message.autoresp");
  const from = await fromMailbox(ctx, dept.autorespEmailId || dept.emailId);
  if (!tpl || !from) return [];
  // Ticket::onMessage writes to the owner or a collaborator about the message, answering it when it came by
  // e-mail, else the newest message that user e-mailed.
  const answers = ctx.salt
    ? ((await entryMessageId(em, entry.id)) ?? (await lastEmailedMessageId(ctx, entry.userId)))
    : undefined;
  return [
    compose(
      ctx,
      tpl,
      to,
      from,
      { message: entryVariable(entry), ...recipientVariables(ctx, to, isOwner ? "owner" : "collaborator") },
      {
        addressee: { userClass: isOwner ? "U" : "C", id: entry.userId },
        thread: aboutEntry(ctx, entry.id, answers),
      },
    ),
  ];
}

async function isCollaborator(ctx: Context, userId: number): Promise<boolean> {
  const [row] = await query(
    ctx.em,
    "SELECT 1 AS found FROM ost_thread_collaborator WHERE thread_id = ? AND user_id = ? LIMIT 1",
    [num(ctx.ticket.thread_id), userId],
  );
  return row !== undefined;
}

async function userMailbox(ctx: Context, userId: number): Promise<Mailbox | undefined> {
  const [row] = await query(
    ctx.em,
    "SELECT u.name, e.address FROM ost_user u JOIN ost_user_email e ON e.id = u.default_email_id WHERE u.id = ?",
    [userId],
  );
  return row ? { name: str(row.name), address: str(row.address) } : undefined;
}

/** PersonsName's formats: osTicket fills every `%{recipient.name.<format>}` for an unnamed collaborator. */
const NAME_FORMATS = [
  "first",
  "last",
  "full",
  "legal",
  "lastfirst",
  "formal",
  "short",
  "shortformal",
  "complete",
  "original",
] as const;

/**
 * Collaborator notice (ticket.activity.notice, Ticket::notifyCollaborators from postMessage): an end user's
 * message posted on the web or through the API goes, in one e-mail, to the ticket's other participants: the
 * owner on To, the active collaborators on Cc, never the poster. It greets the owner when the owner is among
 * them; otherwise every `%{recipient.name.*}` reads "Collaborator" (and `%{recipient}` itself is the last
 * participant listed, as osTicket leaves it). osTicket sends a collaborator-only notice with no To at all;
 * ostmesh's outbox needs one recipient on To, so the first collaborator takes it and the others go on Cc.
 */
async function collaboratorNotice(ctx: Context, entry: ThreadEntry): Promise<PlannedEmail[]> {
  const { em, settings, ticket } = ctx;
  if (!settings.flag("message_autoresponder_collabs") || entry.userId === 0) return [];
  const poster = await userMailbox(ctx, entry.userId);
  const requester: Participant = { userId: num(ticket.user_id), mailbox: owner(ctx) };
  const participants = [requester, ...(await activeCollaboratorUsers(em, num(ticket.thread_id)))];
  const others = participants.filter((p) => p.userId !== entry.userId && p.mailbox.address);
  if (others.length === 0) return [];
  const tpl = await template(ctx, "ticket.activity.notice");
  // Dept::getEmail: the department's e-mail, else the default one.
  const from = await fromMailbox(ctx, ctx.dept.emailId);
  if (!tpl || !from) return [];
  const [first, ...rest] = others;
  if (!first) return [];
  const to = first.mailbox;
  const seen = new Set([to.address.toLowerCase()]);
  const cc: Mailbox[] = [];
  for (const p of rest) {
    const key = p.mailbox.address.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    cc.push(p.mailbox);
  }
  const ticketId = num(ticket.ticket_id);
  const greetsOwner =
    first === requester && to.address.toLowerCase() !== (poster?.address ?? "").toLowerCase();
  let recipient: TemplateVariables;
  if (greetsOwner) {
    recipient = {
      ...recipientVariables(ctx, to, "owner"),
      // TicketOwner's link on a ticket with collaborators carries no auth token.
      "recipient.ticket_link": joinUrl(settings.helpdeskUrl, `view.php?id=${ticketId}`),
    };
  } else {
    const last = (participants.at(-1) ?? requester).mailbox;
    recipient = {
      "recipient.name": last.name,
      "recipient.email": last.address,
      // Collaborator's link to the portal's ticket view.
      "recipient.ticket_link": joinUrl(settings.helpdeskUrl, `tickets.php?id=${ticketId}`),
      ...Object.fromEntries(NAME_FORMATS.map((f) => [`recipient.name.${f}`, "Collaborator"])),
    };
  }
  const posterName = poster?.name ?? "A collaborator";
  const notice = compose(
    ctx,
    tpl,
    to,
    from,
    {
      message: entryVariable(entry),
      poster: posterName,
      "poster.name": posterName,
      signature: "",
      ...recipient,
    },
    // Ticket::notifyCollaborators mails its recipient list about the message, answering the newest e-mailed one.
    { addressee: LIST, thread: aboutEntry(ctx, entry.id, await lastEmailedMessageId(ctx)) },
    cc,
  );
  return [{ ...notice, files: await entryFiles(ctx, entry.id) }];
}

/** The agent's reply, e-mailed to the requester with active collaborators on Cc. */
async function replyNotice(ctx: Context, entry: ThreadEntry): Promise<PlannedEmail[]> {
  const to = owner(ctx);
  if (!to.address) return [];
  const tpl = await template(ctx, "ticket.reply");
  const from = await fromMailbox(ctx, ctx.dept.emailId);
  if (!tpl || !from) return [];
  const cc = (await activeCollaborators(ctx.em, num(ctx.ticket.thread_id))).filter(
    (c) => c.address && c.address.toLowerCase() !== to.address.toLowerCase(),
  );
  const [agent] = await agentsById(ctx.em, [entry.staffId]);
  const reply = compose(
    ctx,
    tpl,
    to,
    from,
    {
      response: entryVariable(entry),
      // Ticket::postReply signs only with the agent's chosen signature ("mine" or "dept"); PostReply has no
      // such choice, so the reply goes unsigned as osTicket's does without one.
      signature: "",
      "staff.name": agent?.name ?? entry.poster,
      "poster.name": entry.poster,
      ...recipientVariables(ctx, to, "owner"),
      // Ticket::postReply: the owner alone on a ticket with collaborators gets TicketOwner::getTicketLink().
      ...(cc.length === 0 && ctx.links.hasCollaborators
        ? { "recipient.ticket_link": ctx.links.ownerSigned }
        : {}),
    },
    // Ticket::postReply mails its recipient list about the response, answering the newest e-mailed message.
    { addressee: LIST, thread: aboutEntry(ctx, entry.id, await lastEmailedMessageId(ctx)) },
    cc,
  );
  // Ticket::postReply attaches the response's files.
  return [{ ...reply, files: await entryFiles(ctx, entry.id) }];
}

/**
 * New Internal Activity Alert (Ticket::onActivity) about a note or an agent's response: to the last respondent,
 * the assigned agent and the assigned team's members (both when both are assigned), the manager; never to the
 * agent who wrote the entry.
 */
async function activityAlerts(ctx: Context, entry: ThreadEntry, activity: string): Promise<PlannedEmail[]> {
  const { em, settings, dept, ticket } = ctx;
  if (!settings.flag("note_alert_active") || !(await hasAlertMembers(ctx))) return [];
  const tpl = await template(ctx, "note.alert");
  const from = await fromMailbox(ctx, settings.alertEmailId);
  if (!tpl || !from) return [];
  const recipients: (Agent | undefined)[] = [];
  if (settings.flag("note_alert_laststaff")) recipients.push(await lastRespondent(em, num(ticket.thread_id)));
  if (settings.flag("note_alert_assigned")) {
    recipients.push(...(await agentsById(em, [num(ticket.staff_id)])));
    recipients.push(...(await teamAlertMembers(em, num(ticket.team_id))));
  }
  if (settings.flag("note_alert_dept_manager")) recipients.push(...(await agentsById(em, [dept.managerId])));
  const [author] = await agentsById(em, [entry.staffId || ((await actingAgent(ctx))?.id ?? 0)]);
  return alertsTo(
    ctx,
    tpl,
    from,
    recipients.filter((a) => a?.id !== author?.id),
    {
      // Ticket::onActivity passes the entry as `note`: %{note} and %{note.message} are its body,
      // %{note.poster} and %{note.title} its columns.
      note: entryVariable(entry),
      "note.message": entryVariable(entry),
      "note.poster": entry.poster,
      "note.title": entry.title,
      activity,
      comments: entryVariable(entry),
    },
    aboutEntry(ctx, entry.id),
  );
}

/** Stale Ticket Alert: assignee (or team), else department members, and the manager. */
async function overdueAlerts(ctx: Context): Promise<PlannedEmail[]> {
  const { em, settings, dept, ticket } = ctx;
  if (!settings.flag("overdue_alert_active")) return [];
  if ((await slaFlags(em, num(ticket.sla_id))) & SLA_NOALERTS) return [];
  if (!(await hasAlertMembers(ctx))) return [];
  const tpl = await template(ctx, "ticket.overdue");
  const from = await departmentAlertMailbox(ctx);
  if (!tpl || !from) return [];
  const assigned = num(ticket.staff_id) > 0 || num(ticket.team_id) > 0;
  const recipients: (Agent | undefined)[] = [];
  if (assigned && settings.flag("overdue_alert_assigned")) recipients.push(...(await assignees(ctx)));
  else if (!assigned && settings.flag("overdue_alert_dept_members"))
    recipients.push(...(await departmentAlertMembers(em, dept)));
  if (settings.flag("overdue_alert_dept_manager"))
    recipients.push(...(await agentsById(em, [dept.managerId])));
  // Ticket::onOverdue sends its alerts about no thread at all.
  return alertsTo(ctx, tpl, from, recipients, { comments: "" }, NO_THREAD);
}

/** The agent who made the change (osTicket's `$thisstaff`); undefined for API keys, services, the system. */
async function actingAgent(ctx: Context): Promise<Agent | undefined> {
  const actor = ctx.event.actor;
  if (actor?.kind !== PrincipalKind.AGENT || !actor.id) return undefined;
  return (await agentsById(ctx.em, [actor.id]))[0];
}

/** `%{<prefix>.name}` and its parts as osTicket's PersonsName prints them (short = "First L."). */
function personVariables(prefix: string, agent: Agent): Record<string, TemplateValue> {
  const initial = agent.lastName.trim().charAt(0);
  return {
    [`${prefix}.name`]: agent.name,
    [`${prefix}.name.first`]: agent.firstName,
    [`${prefix}.name.last`]: agent.lastName,
    [`${prefix}.name.full`]: agent.name,
    [`${prefix}.name.short`]: initial ? `${agent.firstName} ${initial}.` : agent.firstName,
    [`${prefix}.email`]: agent.address,
  };
}

/** The comment note an action posted, for `%{comments}` ("" without one). */
async function commentsVariable(ctx: Context, noteEntryId: number): Promise<TemplateValue> {
  return noteEntryId ? entryVariable(await loadEntry(ctx.em, noteEntryId)) : "";
}

/**
 * Ticket Assignment Alert (Ticket::onAssign): to the assigned agent (assigned_alert_staff), or to a team's
 * members (assigned_alert_team_members), else its lead (assigned_alert_team_lead), when the team has alerts
 * on. An agent who assigns a ticket to themself (a claim) alerts nobody; otherwise the assigning agent is
 * not left out (a team's member assigning it to the team is alerted with the others), as in osTicket.
 * Releases alert nobody.
 */
async function assignedAlerts(ctx: Context, assigned: TicketAssigned): Promise<PlannedEmail[]> {
  const { em, settings } = ctx;
  if (assigned.released || !settings.flag("assigned_alert_active")) return [];
  if (!(await hasAlertMembers(ctx))) return [];
  const recipients: (Agent | undefined)[] = [];
  let assignee: Record<string, TemplateValue>;
  const staff = assigned.staff;
  const team = assigned.team;
  const assigner = await actingAgent(ctx);
  if (staff?.id && staff.id === assigner?.id) return [];
  if (staff?.id && staff.id !== assigned.previousStaff?.id) {
    const [agent] = await agentsById(em, [staff.id]);
    if (!agent) return [];
    assignee = personVariables("assignee", agent);
    if (settings.flag("assigned_alert_staff")) recipients.push(agent);
  } else if (team?.id) {
    assignee = { "assignee.name": team.name || str(ctx.ticket.team_name) };
    const members = settings.flag("assigned_alert_team_members") ? await teamAlertMembers(em, team.id) : [];
    if (members.length > 0) recipients.push(...members);
    else if (settings.flag("assigned_alert_team_lead")) recipients.push(await teamLead(em, team.id));
  } else {
    return [];
  }
  const wanted = recipients.filter((a) => a !== undefined);
  if (wanted.length === 0) return [];
  const tpl = await template(ctx, "assigned.alert");
  const from = await departmentAlertMailbox(ctx);
  if (!tpl || !from) return [];
  const system = "SYSTEM (Auto Assignment)";
  return alertsTo(
    ctx,
    tpl,
    from,
    wanted,
    {
      ...assignee,
      ...(assigner
        ? personVariables("assigner", assigner)
        : { "assigner.name": system, "assigner.name.short": system }),
      comments: await commentsVariable(ctx, assigned.noteEntryId),
    },
    // Ticket::onAssign: about the comment note when there is one, else about no thread.
    aboutEntry(ctx, assigned.noteEntryId),
  );
}

/**
 * Ticket Transfer Alert (Ticket::transfer), when the new department has members for alerts: to the assignee
 * or the assigned team's members (transfer_alert_assigned), else, unassigned, to the department's members
 * (transfer_alert_dept_members); and to its manager (transfer_alert_dept_manager); the agent who
 * transferred included where they are one of these, as in osTicket.
 */
async function transferAlerts(ctx: Context, transferred: TicketTransferred): Promise<PlannedEmail[]> {
  const { em, settings, dept, ticket } = ctx;
  if (!settings.flag("transfer_alert_active")) return [];
  const members = await departmentAlertMembers(em, dept);
  if (members.length === 0) return [];
  const assigned = num(ticket.staff_id) > 0 || num(ticket.team_id) > 0;
  const recipients: (Agent | undefined)[] = [];
  if (assigned && settings.flag("transfer_alert_assigned")) recipients.push(...(await assignees(ctx)));
  else if (!assigned && settings.flag("transfer_alert_dept_members")) recipients.push(...members);
  if (settings.flag("transfer_alert_dept_manager"))
    recipients.push(...(await agentsById(em, [dept.managerId])));
  const staff = await actingAgent(ctx);
  const wanted = recipients.filter((a) => a !== undefined);
  if (wanted.length === 0) return [];
  const tpl = await template(ctx, "transfer.alert");
  const from = await departmentAlertMailbox(ctx);
  if (!tpl || !from) return [];
  return alertsTo(
    ctx,
    tpl,
    from,
    wanted,
    {
      ...(staff ? personVariables("staff", staff) : {}),
      comments: await commentsVariable(ctx, transferred.noteEntryId),
    },
    // Ticket::transfer: about the comment note when there is one, else about no thread.
    aboutEntry(ctx, transferred.noteEntryId),
  );
}

/**
 * A ticket filter's canned response e-mailed to the requester (Ticket::postCannedReply with `$alert`): the
 * department's canned auto-reply template (`ticket.autoreply`) from the department's e-mail (else the default
 * one), with the response and its files; about the response, answering the first message when the owner
 * e-mailed it. The ticket service decided that it goes out (TicketCreated.canned_reply_autorespond): the
 * helpdesk's and the department's auto-response switches do not apply to it.
 */
async function cannedAutoReply(
  ctx: Context,
  entryId: number,
  message: ThreadEntry | undefined,
): Promise<PlannedEmail[]> {
  const to = owner(ctx);
  if (!to.address) return [];
  const response = await loadEntry(ctx.em, entryId);
  const tpl = await template(ctx, "ticket.autoreply");
  const from = await fromMailbox(ctx, ctx.dept.emailId);
  if (!response || !tpl || !from) return [];
  const answers =
    message && message.userId === num(ctx.ticket.user_id)
      ? await entryMessageId(ctx.em, message.id)
      : undefined;
  const reply = compose(
    ctx,
    tpl,
    to,
    from,
    { response: entryVariable(response), ...recipientVariables(ctx, to, "owner") },
    { addressee: ownerAddressee(ctx), thread: aboutEntry(ctx, response.id, answers) },
  );
  return [{ ...reply, files: await entryFiles(ctx, response.id) }];
}

/** Mail_Parse::parseAddressList, leniently: each mailbox of the list that has an address. */
function addressList(list: string): Mailbox[] {
  return addressparser(list, { flatten: true })
    .filter((a) => a.address?.includes("@"))
    .map((a) => ({ address: a.address ?? "", name: a.name }));
}

/**
 * The ticket filters' "Send an Email" actions (FA_SendEmail): to each address of the action's list, its
 * subject and message rendered with the ticket's variables (`%{recipient}` is the ticket's owner, as the
 * action fills it in before it splits the list; `%{user}` the requester as `"<name>" <<address>>`), from the
 * action's "From Email" (else the default e-mail). Sent whatever the alert and auto-response settings, as a
 * plain e-mail about no thread entry.
 */
async function filterActionEmails(ctx: Context, emails: readonly FilterEmail[]): Promise<PlannedEmail[]> {
  const out: PlannedEmail[] = [];
  const ticketOwner = owner(ctx);
  for (const [index, email] of emails.entries()) {
    const from = await fromMailbox(ctx, email.fromEmailId);
    if (!from) continue;
    // Each action its own "template", so two actions to one address are two e-mails.
    const tpl: EmailTemplate = {
      codeName: `filter.email.${index + 1}`,
      subject: email.subject,
      body: email.message,
    };
    const user = `"${ticketOwner.name}" <${ticketOwner.address}>`;
    for (const to of addressList(email.recipients)) {
      out.push(
        compose(
          ctx,
          tpl,
          to,
          from,
          { ...recipientVariables(ctx, ticketOwner, "owner"), recipient: ticketOwner.name, user },
          { addressee: { userClass: "?", id: 0 }, thread: NO_THREAD },
        ),
      );
    }
  }
  return out;
}
