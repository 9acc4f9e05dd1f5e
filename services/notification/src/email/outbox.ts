import type { MikroORM } from "@mikro-orm/mysql";
import { type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { describeError, type Logger } from "@ostmesh/bus";
import { type EntityManager, execute, query, type Row } from "@ostmesh/db";
import type { DeliveryMetrics, DeliveryOutcome } from "@ostmesh/kit/metrics/delivery.ts";
import { simpleHtml2Text } from "@ostmesh/kit/osticket/text.ts";
import { backoffMs, claimLeased, DeliveryLoop, forEachConcurrently, QueueDepth } from "../delivery-loop.ts";
import { num, str } from "../osticket/reads.ts";
import { restoredTraceContext } from "../trace-context.ts";
import type { Mailbox } from "./directory.ts";
import { isOsTicketMessageId, withRefMidLine } from "./message-id.ts";
import type { PlannedEmail, PlannedFile } from "./plan.ts";

export const EmailStatus = { PENDING: 1, RETRYING: 2, SENT: 3, FAILED: 4 } as const;

/**
 * Queues planned e-mails inside the caller's transaction (the consumer's processOnce). The unique key
 * (event, template, recipient) makes a second queueing of the same e-mail a no-op. Returns how many were new.
 * `traceContext` (storedTraceContext() of the consumer's span) is kept with each e-mail, so its SMTP send
 * continues the trace of the change.
 */
export async function enqueueEmails(
  tx: EntityManager,
  eventId: string,
  emails: readonly PlannedEmail[],
  traceContext: string | null = null,
): Promise<number> {
  let added = 0;
  for (const e of emails) {
    const result = await execute(
      tx,
      "INSERT IGNORE INTO ostmesh_email (event_id, template, recipient, recipient_name, cc, from_address, from_name," +
        " subject, body_html, message_id, in_reply_to, references_ids, ticket_id, trace_context, attachments)" +
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [
        eventId,
        e.template,
        e.to.address,
        e.to.name,
        e.cc.length > 0 ? JSON.stringify(e.cc) : null,
        e.from.address,
        e.from.name,
        e.subject.slice(0, 998),
        e.html,
        e.messageId,
        e.inReplyTo ?? null,
        e.references.length > 0 ? e.references.join(" ") : null,
        e.ticketId,
        traceContext,
        e.files.length > 0 ? JSON.stringify(e.files) : null,
      ],
    );
    added += result.affectedRows;
  }
  return added;
}

/** A file e-mailed with a message, read from osTicket's storage. */
export interface MailAttachment {
  filename: string;
  content: Buffer;
  contentType: string;
  /** An image the HTML shows (`cid:` URL): its Content-ID, sent inline in a multipart/related part. */
  cid?: string;
  contentDisposition?: "inline";
}

/** What the sender needs from a mail transport (nodemailer's Mail object fits). */
export interface MailTransport {
  /** The SMTP server it talks to (server.address / server.port of the send spans). */
  readonly server?: { readonly address: string; readonly port: number };
  sendMail(message: {
    from: Mailbox;
    to: Mailbox;
    cc?: Mailbox[];
    subject: string;
    html: string;
    text: string;
    messageId: string;
    inReplyTo?: string;
    references?: string[];
    headers?: Record<string, string>;
    attachments?: MailAttachment[];
  }): Promise<{ response?: string }>;
  close(): void;
}

export interface EmailSenderOptions {
  orm: MikroORM;
  transport: MailTransport;
  logger: Logger;
  /** Idle poll interval (default 1 s); `notify()` wakes the sender at once. */
  pollIntervalMs?: number;
  /** E-mails claimed per round (default 20), sent this many at a time (default 4). */
  batchSize?: number;
  concurrency?: number;
  /** Retry backoff: doubling from `initialMs` (default 30 s) up to `maxMs` (default 1 h), ±20 % jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Attempts before an e-mail is FAILED (default 10, about 8 hours with the default backoff). */
  maxAttempts?: number;
  /** How long a claimed e-mail stays reserved for this sender (default 2 min). */
  leaseMs?: number;
  /** Attempt outcomes and queue depth (kit's deliveryMetrics, channel "email"). */
  metrics?: DeliveryMetrics;
}

type MailMessage = Parameters<MailTransport["sendMail"]>[0];

/** Mailer::send's pattern of an inline image's URL in an HTML body: `cid:` and a file's key. */
const CID_URL = /cid:([\w.-]{32})/g;

/** Templates osTicket sends with Email::sendAutoReply (Mailer::send's `autoreply` option). */
const AUTO_REPLIES = new Set(["ticket.autoresp", "message.autoresp", "ticket.autoreply"]);
/** Templates osTicket sends with Email::sendAlert (Mailer::send's `notice` option). */
const ALERTS = new Set([
  "ticket.alert",
  "message.alert",
  "note.alert",
  "assigned.alert",
  "transfer.alert",
  "ticket.overdue",
]);

/**
 * The headers Mailer::send gives a mail: X-Mailer always; an auto-response is marked as one and asks that no
 * one answer it (Precedence, X-Autoreply, X-Auto-Response-Suppress, Auto-Submitted: auto-replied); an alert
 * suppresses out-of-office answers (Auto-Submitted: auto-generated); what Email::send sends plainly (an
 * agent's reply, the ticket notice, the activity notice, a filter's e-mail) carries neither.
 */
export function mailerHeaders(template: string): Record<string, string> {
  if (AUTO_REPLIES.has(template))
    return {
      "X-Mailer": "osTicket Mailer",
      Precedence: "auto_reply",
      "X-Autoreply": "yes",
      "X-Auto-Response-Suppress": "DR, RN, OOF, AutoReply",
      "Auto-Submitted": "auto-replied",
    };
  if (ALERTS.has(template))
    return {
      "X-Mailer": "osTicket Mailer",
      "X-Auto-Response-Suppress": "OOF, AutoReply",
      "Auto-Submitted": "auto-generated",
    };
  return { "X-Mailer": "osTicket Mailer" };
}

/**
 * Sends queued e-mails over SMTP with retries (exponential backoff with jitter). Each e-mail is claimed with
 * a lease (SELECT ... FOR UPDATE SKIP LOCKED), so replicas share the queue without sending one twice; a
 * failure never touches the ticket, which committed long before. A 5xx answer is permanent (FAILED at
 * once); anything else is retried until `maxAttempts`. Each attempt is a CLIENT span `SMTP send` in the trace
 * of the change that queued the e-mail (its stored W3C context), however late and wherever it runs.
 */
export class EmailSender {
  readonly #o: Required<Omit<EmailSenderOptions, "backoff" | "metrics">> & {
    backoffInitial: number;
    backoffMax: number;
    metrics: DeliveryMetrics | undefined;
  };
  readonly #loop: DeliveryLoop;
  readonly #queue: QueueDepth;

  constructor(options: EmailSenderOptions) {
    this.#o = {
      pollIntervalMs: 1_000,
      batchSize: 20,
      concurrency: 4,
      maxAttempts: 10,
      leaseMs: 120_000,
      ...options,
      backoffInitial: options.backoff?.initialMs ?? 30_000,
      backoffMax: options.backoff?.maxMs ?? 3_600_000,
      metrics: options.metrics,
    };
    this.#loop = new DeliveryLoop({
      logger: this.#o.logger,
      roundFailedMessage: "e-mail sender round failed",
      pollIntervalMs: this.#o.pollIntervalMs,
      batchSize: this.#o.batchSize,
      round: () => this.sendDue(),
    });
    this.#queue = new QueueDepth(
      this.#o.metrics,
      "email",
      "SELECT COUNT(*) AS n FROM ostmesh_email WHERE status IN (?, ?)",
      [EmailStatus.PENDING, EmailStatus.RETRYING],
    );
  }

  start(): this {
    this.#loop.start();
    return this;
  }

  notify(): void {
    this.#loop.notify();
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /** Delay before attempt `attempt + 1` after `attempt` failures (±20 % jitter). */
  retryDelayMs(attempt: number): number {
    const base = backoffMs(attempt, this.#o.backoffInitial, this.#o.backoffMax);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  /** Claims due e-mails and sends them; returns how many were claimed. */
  async sendDue(): Promise<number> {
    const em = this.#o.orm.em.fork();
    await this.#queue.report(em);
    const rows = await claimLeased(em, {
      table: "ostmesh_email",
      dueSql:
        "SELECT id FROM ostmesh_email WHERE status IN (?, ?) AND next_attempt_at <= NOW(6)" +
        " AND (lease_until IS NULL OR lease_until < NOW(6)) ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED",
      dueParams: [EmailStatus.PENDING, EmailStatus.RETRYING, this.#o.batchSize],
      leaseMs: this.#o.leaseMs,
      load: (tx, ids, marks) =>
        query(tx, `SELECT * FROM ostmesh_email WHERE id IN (${marks}) ORDER BY id`, ids),
    });
    await forEachConcurrently(rows, this.#o.concurrency, (row) => this.#send(em.fork(), row));
    return rows.length;
  }

  async #send(em: EntityManager, row: Row): Promise<void> {
    const id = num(row.id);
    const attempts = num(row.attempts) + 1;
    const template = str(row.template);
    const html = str(row.body_html);
    const references = str(row.references_ids).split(/\s+/).filter(Boolean);
    const inReplyTo = str(row.in_reply_to);
    const messageId = str(row.message_id);
    const started = performance.now();
    const observe = (outcome: DeliveryOutcome) =>
      this.#o.metrics?.attempt("email", outcome, (performance.now() - started) / 1000);
    const cc = row.cc ? parseCc(row.cc) : [];
    try {
      const inline = await this.#inlineImages(em, id, html, str(row.from_address));
      const files = row.attachments
        ? await this.#attachments(
            em,
            id,
            parseFiles(row.attachments).filter((f) => !inline.fileIds.has(f.fileId)),
          )
        : [];
      const attachments = [...inline.images, ...files];
      await this.#traced(row, attempts, {
        from: { address: str(row.from_address), name: str(row.from_name) },
        to: { address: str(row.recipient), name: str(row.recipient_name) },
        ...(row.cc ? { cc } : {}),
        subject: str(row.subject),
        html: inline.html,
        text: textBody(html, messageId),
        messageId,
        ...(inReplyTo ? { inReplyTo } : {}),
        ...(references.length > 0 ? { references } : {}),
        headers: mailerHeaders(template),
        ...(attachments.length > 0 ? { attachments } : {}),
      });
      // The row's bookkeeping is the sender's own, outside the send span (and the change's trace).
      await execute(
        em,
        "UPDATE ostmesh_email SET status = ?, attempts = ?, sent_at = NOW(6), lease_until = NULL, last_error = NULL WHERE id = ?",
        [EmailStatus.SENT, attempts, id],
      );
      observe("success");
    } catch (error) {
      const message = describeError(error).slice(0, 1024);
      const permanent = smtpResponseCode(error) >= 500;
      if (permanent || attempts >= this.#o.maxAttempts) {
        observe("dead");
        await execute(
          em,
          "UPDATE ostmesh_email SET status = ?, attempts = ?, lease_until = NULL, last_error = ? WHERE id = ?",
          [EmailStatus.FAILED, attempts, message, id],
        );
        this.#o.logger.error({ emailId: id, template, attempts, error: message }, "e-mail failed for good");
        return;
      }
      observe(emailFailureOutcome(error));
      const delay = this.retryDelayMs(attempts);
      await execute(
        em,
        "UPDATE ostmesh_email SET status = ?, attempts = ?, lease_until = NULL, last_error = ?," +
          " next_attempt_at = NOW(6) + INTERVAL ? MICROSECOND WHERE id = ?",
        [EmailStatus.RETRYING, attempts, message, delay * 1000, id],
      );
      this.#o.logger.warn(
        { emailId: id, template, attempts, retryInMs: delay, error: message },
        "e-mail not sent; will retry",
      );
    }
  }

  /**
   * The planned files' bytes from osTicket's database storage (ost_file_chunk, read chunk by chunk). As
   * osTicket's Mailer does with a file it cannot read, a file that is gone, kept in another storage backend,
   * or larger than the helpdesk's max_file_size is left out with a warning, and the e-mail still goes.
   */
  async #attachments(em: EntityManager, emailId: number, files: PlannedFile[]): Promise<MailAttachment[]> {
    const [config] = await query(
      em,
      "SELECT value FROM ost_config WHERE namespace = 'core' AND `key` = 'max_file_size'",
    );
    const limit = num(config?.value) || DEFAULT_MAX_FILE_SIZE;
    const out: MailAttachment[] = [];
    for (const file of files) {
      const [row] = await query(em, "SELECT bk, type, size, name FROM ost_file WHERE id = ?", [file.fileId]);
      const skip = !row
        ? "file not found"
        : str(row.bk) !== "D"
          ? "file not in database storage"
          : num(row.size) > limit
            ? "file larger than max_file_size"
            : "";
      if (!row || skip) {
        this.#o.logger.warn({ emailId, fileId: file.fileId, limit }, `e-mail attachment left out: ${skip}`);
        continue;
      }
      const chunks: Buffer[] = [];
      let chunkId = -1;
      let size = 0;
      for (;;) {
        const [chunk] = await query(
          em,
          "SELECT chunk_id, filedata FROM ost_file_chunk WHERE file_id = ? AND chunk_id > ? ORDER BY chunk_id LIMIT 1",
          [file.fileId, chunkId],
        );
        if (!chunk) break;
        chunkId = num(chunk.chunk_id);
        const data = Buffer.isBuffer(chunk.filedata) ? chunk.filedata : Buffer.from(str(chunk.filedata));
        size += data.length;
        // ost_file.size is osTicket's word; the chunks are what would go out.
        if (size > limit) break;
        chunks.push(data);
      }
      if (size > limit) {
        this.#o.logger.warn(
          { emailId, fileId: file.fileId, limit },
          "e-mail attachment left out: file larger than max_file_size",
        );
        continue;
      }
      out.push({
        filename: file.name || str(row.name),
        content: Buffer.concat(chunks),
        contentType: str(row.type) || "application/octet-stream",
      });
    }
    return out;
  }

  /**
   * Mailer::send's inline images: every `cid:<file key>` of the HTML (the first 32 characters of [\w.-] after
   * `cid:`, as its pattern takes them) that names a file of osTicket's storage (AttachmentFile::lookup: any
   * ost_file, such as the templates' "Powered by osTicket" logo) goes along as an inline part whose Content-ID
   * is the key with the sender's domain (`@localhost` without one), and the HTML names it so; a file that is
   * also a planned attachment is not attached twice. A key that names no file is left as written.
   */
  async #inlineImages(
    em: EntityManager,
    emailId: number,
    html: string,
    fromAddress: string,
  ): Promise<{ html: string; images: MailAttachment[]; fileIds: Set<number> }> {
    const keys = [...new Set([...html.matchAll(CID_URL)].map((m) => String(m[1])))];
    const fileIds = new Set<number>();
    if (keys.length === 0) return { html, images: [], fileIds };
    const domain = /(@[0-9a-zA-Z\-.]+)/.exec(fromAddress)?.[1] ?? "@localhost";
    const rows = await query(
      em,
      `SELECT id, \`key\`, name FROM ost_file WHERE \`key\` IN (${keys.map(() => "?").join(", ")}) ORDER BY id`,
      keys,
    );
    const images: MailAttachment[] = [];
    const embedded = new Set<string>();
    for (const key of keys) {
      const file = rows.find((r) => str(r.key).toLowerCase() === key.toLowerCase());
      if (!file) continue;
      const [image] = await this.#attachments(em, emailId, [{ fileId: num(file.id), name: str(file.name) }]);
      if (!image) continue;
      images.push({ ...image, cid: `${key}${domain}`, contentDisposition: "inline" });
      fileIds.add(num(file.id));
      embedded.add(key);
    }
    return {
      html: html.replace(CID_URL, (url, key: string) => (embedded.has(key) ? `${url}${domain}` : url)),
      images,
      fileIds,
    };
  }

  /** One SMTP send inside its CLIENT span, a child of the stored context of the change; rethrows failures. */
  async #traced(row: Row, attempt: number, message: MailMessage): Promise<void> {
    const server = this.#o.transport.server;
    await trace.getTracer("@ostmesh/notification").startActiveSpan(
      "SMTP send",
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "network.protocol.name": "smtp",
          ...(server ? { "server.address": server.address, "server.port": server.port } : {}),
          "ostmesh.email.id": num(row.id),
          "ostmesh.email.template": str(row.template),
          "ostmesh.email.attempt": attempt,
          // How many, never who: addresses stay out of telemetry as they stay out of the logs.
          "ostmesh.email.recipient_count": 1 + (message.cc?.length ?? 0),
          "ostmesh.event.id": str(row.event_id),
        },
      },
      restoredTraceContext(row.trace_context),
      async (span) => {
        try {
          await this.#o.transport.sendMail(message);
        } catch (error) {
          recordSendError(span, error);
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }
}

/**
 * The plain-text part, from the html. Mailer::send ends every text part with a `Ref-Mid:` line naming the
 * mail's Message-ID, which threads a plain-text reply that quotes it; only osTicket's own ids are worth naming.
 */
/** Mailer::send's text part: `rtrim(Format::html2text($body, 90, false))`, then the Ref-Mid line. */
function textBody(html: string, messageId: string): string {
  const text = simpleHtml2Text(html, 90).replace(/[ \t\n\r\0\v]+$/, "");
  return isOsTicketMessageId(messageId) ? withRefMidLine(text, messageId) : text;
}

/** Status ERROR, `error.type` (the SMTP reply code, else the error's code or name) and an exception event. */
function recordSendError(span: Span, error: unknown): void {
  const reply = smtpResponseCode(error);
  const code = error && typeof error === "object" && "code" in error ? String(error.code) : "";
  const name = error instanceof Error ? error.name : "Error";
  span.setAttribute("error.type", reply > 0 ? String(reply) : code || name);
  const message = withoutAddresses(error instanceof Error ? error.message : String(error));
  span.recordException({
    name,
    message,
    ...(code ? { code } : {}),
    ...(error instanceof Error && error.stack ? { stack: withoutAddresses(error.stack) } : {}),
  });
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** SMTP replies often quote the refused recipient; telemetry keeps no e-mail address. */
function withoutAddresses(text: string): string {
  return text.replace(/[^\s<>"'(),;:@/[\]]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+/g, "REDACTED");
}

/** osTicket's max_file_size on a fresh install (1 MiB), for a helpdesk whose ost_config lacks it. */
const DEFAULT_MAX_FILE_SIZE = 1_048_576;

function parseFiles(value: unknown): PlannedFile[] {
  try {
    const parsed: unknown = JSON.parse(str(value));
    if (!Array.isArray(parsed)) return [];
    return parsed.flatMap((f: unknown) =>
      f && typeof f === "object" && num(Reflect.get(f, "fileId")) > 0
        ? [{ fileId: num(Reflect.get(f, "fileId")), name: str(Reflect.get(f, "name")) }]
        : [],
    );
  } catch {
    return [];
  }
}

function parseCc(value: unknown): Mailbox[] {
  try {
    const parsed: unknown = JSON.parse(str(value));
    if (!Array.isArray(parsed)) return [];
    return parsed.flatMap((m: unknown) =>
      m && typeof m === "object"
        ? [{ address: str(Reflect.get(m, "address")), name: str(Reflect.get(m, "name")) }]
        : [],
    );
  } catch {
    return [];
  }
}

/** An SMTP server's 4xx answer, a timeout, or a connection failure. */
function emailFailureOutcome(error: unknown): DeliveryOutcome {
  if (smtpResponseCode(error) >= 400) return "http_error";
  const code = error && typeof error === "object" && "code" in error ? String(error.code) : "";
  return code === "ETIMEDOUT" || code === "ETIMEOUT" ? "timeout" : "network_error";
}

/** nodemailer's SMTP errors carry the server's reply code. */
function smtpResponseCode(error: unknown): number {
  if (error && typeof error === "object" && "responseCode" in error) return num(error.responseCode);
  return 0;
}
