/**
 * The e-mail channel of the ticket service: osTicket's `tickets.email` handling (new tickets, replies
 * threaded by Message-ID / In-Reply-To / References / `[#number]`, re-deliveries ignored) over osTicket's
 * tables, in one transaction. The IngestEmail RPC and the legacy `/api/tickets.email` route call
 * `ingestEmail`.
 */
export type { AttachmentFailure } from "./attachments.ts";
export type { CreatedFromEmail } from "./create.ts";
export { EmailDeniedError, EmailParseError } from "./errors.ts";
export {
  type IngestEmailInput,
  type IngestEmailOptions,
  type IngestEmailResult,
  ingestEmail,
  type Redelivered,
} from "./ingest.ts";
export { decodeMessageId, encodeMessageId, type OsTicketMessageId, systemMessageIdCode } from "./loopback.ts";
export { type MailAddress, type MailAttachment, type ParsedEmail, parseEmail } from "./parse.ts";
export { recordDeniedMessage } from "./records.ts";
export type { EmailNoteEvent, EmailReplyEvent, ThreadedReply } from "./reply.ts";
export { subjectTicketNumber } from "./threading.ts";
