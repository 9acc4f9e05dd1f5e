/**
 * TicketService.IngestEmail over the e-mail channel (../email): the message is parsed and routed (new
 * ticket, threaded reply, re-delivery) in one READ COMMITTED transaction that also holds the idempotency
 * record and the outbox events. A denied sender's Message-ID stays on record, as osTicket's mail fetcher
 * keeps it: that transaction commits and the call then fails with PERMISSION_DENIED. A legacy request
 * (`POST /api/tickets.email`) writes nothing: over HTTP osTicket's error response ends the request before
 * the Message-ID is recorded.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { DeniedSchema, ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import {
  type IngestEmailRequest,
  IngestEmailRequestSchema,
  type IngestEmailResponse,
  IngestEmailResponseSchema,
  IngestOutcome,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { callerOf, subjectOf } from "../access.ts";
import { sqlFor } from "../domain/index.ts";
import { EmailDeniedError, EmailParseError, ingestEmail } from "../email/index.ts";
import { recordDeniedMessage } from "../email/records.ts";
import { deniedDetail, domainFailure, invalidArgument } from "../errors.ts";
import { runIdempotent } from "../idempotency.ts";
import type { Runtime } from "../runtime.ts";
import { Mutation } from "./mutation.ts";
import { publishDomainEvents } from "./publish.ts";
import { logRefusal } from "./refusals.ts";

export async function handleIngestEmail(
  rt: Runtime,
  req: IngestEmailRequest,
  ctx: HandlerContext,
): Promise<IngestEmailResponse> {
  // osTicket's e-mail API takes an empty body like any other undecodable one (a header-less mail, then a
  // create without a sender); the typed API asks for a message.
  if (req.rawMessage.length === 0 && !req.legacy)
    throw invalidArgument("raw_message", "raw_message is required");
  const principal = callerOf(ctx);
  try {
    const em = rt.em();
    const ref = await rt.refs.get(em);
    const { response, replayed } = await runIdempotent(
      em,
      {
        rpc: "IngestEmail",
        caller: subjectOf(principal),
        key: req.idempotencyKey,
        requestSchema: IngestEmailRequestSchema,
        request: req,
        responseSchema: IngestEmailResponseSchema,
        // Concurrent deliveries of one message must see each other's commits (see ingestEmail).
        isolationLevel: "read committed",
        recover: async (tx, error) => {
          if (!(error instanceof EmailDeniedError) || req.legacy) return false;
          // Kept on purpose, as osTicket keeps the refused Message-ID; the call fails after the commit.
          await recordDeniedMessage(sqlFor(tx), error.mid);
          return true;
        },
      },
      async (tx) => {
        const m = new Mutation(rt, tx, principal, ref);
        const result = await ingestEmail(
          tx,
          { raw: req.rawMessage, ip: req.ipAddress, emailId: req.emailId || undefined },
          m.ports,
          {
            secretSalt: rt.deps.config.secretSalt,
            keepDeniedMessageId: !req.legacy,
            onParseFailure: (failure) =>
              rt.deps.logger?.warn(
                { reason: failure.reason, osTicketText: failure.legacyText },
                "e-mail osTicket cannot decode: its message is the parse error, the raw mail attached",
              ),
            onNotes: (notes) =>
              rt.deps.logger?.warn(
                { notes },
                "winmail.dat not decoded: kept as an attachment, as osTicket keeps it",
              ),
          },
        );
        const ticket = await m.ticket(result.ticketId);
        await publishDomainEvents(m, { after: ticket, viaEmail: true });
        const failures = result.kind === "redelivered" ? [] : result.attachmentFailures;
        return create(IngestEmailResponseSchema, {
          ticket,
          outcome:
            result.kind === "created"
              ? IngestOutcome.NEW_TICKET
              : result.kind === "threaded"
                ? IngestOutcome.THREADED_REPLY
                : IngestOutcome.REDELIVERY,
          threadEntryId: result.entryId ?? 0,
          attachmentErrors: failures.map((f) => ({ name: f.name, description: f.message })),
        });
      },
    );
    if (!replayed) rt.deps.outbox.notify();
    return response;
  } catch (error) {
    await logRefusal(rt, error, req.ipAddress);
    if (error instanceof EmailDeniedError) {
      const refused = error;
      const message = `Ticket denied: ${refused.email}`;
      throw new ConnectError(message, Code.PermissionDenied, undefined, [
        { desc: DeniedSchema, value: deniedDetail(refused.cause, message) },
      ]);
    }
    if (error instanceof EmailParseError) {
      rt.deps.logger?.info({ reason: error.reason }, "e-mail refused: it cannot be parsed");
      // The message is osTicket's own text alone: the legacy route answers with it verbatim.
      const text = error.legacyText();
      throw new ConnectError(text, Code.InvalidArgument, undefined, [
        {
          desc: ValidationErrorsSchema,
          value: { violations: [{ field: "raw_message", description: text }] },
        },
      ]);
    }
    throw (await domainFailure(error)) ?? error;
  }
}
