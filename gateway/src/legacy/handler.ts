/**
 * osTicket's legacy API (POST /api/tickets.json|xml|email, POST /api/tasks/cron, also under
 * /api/http.php/...), answered exactly as osTicket 1.18.1 answers: the same status codes, texts and
 * ost_syslog rows (see FACTS §4). The work itself is done by the identity service (API key check) and the
 * ticket service (create, e-mail, cron, syslog rows) through a LegacyBackend.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { DeniedSchema, ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import {
  ApiKeyCheckOutcome,
  ApiKeyPurpose,
} from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import type {
  CreateTicketRequest,
  SystemLogEntry,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import type { Logger } from "pino";
import { BoundKeyTokens } from "../auth/key-tokens.ts";
import {
  fixupJson,
  fixupXml,
  LegacyInputError,
  prepareAttachments,
  refuseCrashingValues,
  ticketRequestStructure,
  unexpectedKeys,
} from "./fixup.ts";
import {
  BodyTooLarge,
  type LegacyRoute,
  type NodeRequest,
  type NodeResponse,
  readBody,
  sendEdge,
  sendLegacy,
} from "./http.ts";
import { decodeJson, JSON_ERROR_TEXT } from "./json.ts";
import { isPhpArray, type PhpArray, phpString } from "./php.ts";
import { apiErrorEntry, cronRunEntry, maskApiKey, unexpectedDataEntry } from "./syslog.ts";
import { createTicketRequest } from "./ticket-request.ts";
import { decodeXml, noXmlError } from "./xml.ts";

/** The RPCs the legacy API needs. `token` is the access token CheckApiKey issued for the caller's key. */
export interface LegacyBackend {
  /** osTicket's key check; `reusableUntilMs` when the token is bound to the key (see BoundKeyTokens). */
  checkApiKey(
    apiKey: string,
    clientIp: string,
    purpose: ApiKeyPurpose,
    signal: AbortSignal,
  ): Promise<{ outcome: ApiKeyCheckOutcome; token: string; reusableUntilMs?: number }>;
  createTicket(request: CreateTicketRequest, token: string, signal: AbortSignal): Promise<{ number: string }>;
  ingestEmail(raw: Buffer, clientIp: string, token: string, signal: AbortSignal): Promise<{ number: string }>;
  runScheduledTasks(token: string, signal: AbortSignal): Promise<void>;
  recordSystemLog(entries: readonly SystemLogEntry[], signal: AbortSignal): Promise<void>;
  /** Names of the form fields a ticket of this help topic may answer (contact, ticket and topic forms). */
  formFieldNames(topicId: string, signal: AbortSignal): Promise<ReadonlySet<string>>;
}

export interface LegacyLimits {
  /** Largest tickets.json / tickets.xml body. */
  maxBodyBytes: number;
  /** Largest tickets.email body (a whole e-mail with its attachments). */
  maxEmailBytes: number;
}

const KEY_TEXT: Readonly<Record<number, string>> = {
  [ApiKeyCheckOutcome.INVALID]: "Valid API key required",
  [ApiKeyCheckOutcome.INACTIVE]: "API key not found/active or source IP not authorized",
  [ApiKeyCheckOutcome.NOT_AUTHORIZED]: "API key not authorized",
};

const CREATE_FAILED = "Unable to create new ticket :";
const DENIED_TEXT = "This help desk is for use by authorized users only";

/** A finished exchange: what to answer and which syslog rows to write. */
interface Outcome {
  code: number;
  body: string;
  /** Answer with this status as is (edge answers outside osTicket's map). */
  edge?: boolean;
  rows: SystemLogEntry[];
}

export class LegacyApi {
  readonly #backend: LegacyBackend;
  readonly #limits: LegacyLimits;
  readonly #logger: Logger;
  readonly #keyTokens = new BoundKeyTokens();

  constructor(backend: LegacyBackend, limits: LegacyLimits, logger: Logger) {
    this.#backend = backend;
    this.#limits = limits;
    this.#logger = logger;
  }

  /** Serves one legacy request; `clientIp` is the caller's address after the trusted-proxy rules. */
  async handle(req: NodeRequest, res: NodeResponse, route: LegacyRoute, clientIp: string): Promise<void> {
    const signal = abortOnClose(res);
    let outcome: Outcome;
    const header = req.headers["x-api-key"];
    const apiKey = Array.isArray(header) ? header.join(", ") : header;
    try {
      outcome = await this.#serve(req, route, apiKey, clientIp, signal);
    } catch (error) {
      if (signal.aborted) return;
      // An infrastructure failure (a service down): osTicket's "unknown error", logged like its errors.
      this.#logger.error(
        { err: error, route: route.kind, apiKey: apiKey ? maskApiKey(apiKey) : undefined },
        "legacy request failed",
      );
      const body = route.kind === "cron" ? "unknown error" : `${CREATE_FAILED}unknown error`;
      outcome = { code: 500, body, rows: [apiErrorEntry(500, body, apiKey, clientIp)] };
    }
    if (outcome.rows.length > 0) {
      try {
        await this.#backend.recordSystemLog(outcome.rows, signal);
      } catch (error) {
        this.#logger.warn({ err: error, rows: outcome.rows.length }, "could not write ost_syslog rows");
      }
    }
    if (res.headersSent || res.destroyed) return;
    if (outcome.edge) sendEdge(res, outcome.code, outcome.body);
    else sendLegacy(res, outcome.code, outcome.body);
  }

  async #serve(
    req: NodeRequest,
    route: LegacyRoute,
    apiKey: string | undefined,
    clientIp: string,
    signal: AbortSignal,
  ): Promise<Outcome> {
    // Routing fails before any controller: not logged.
    if (route.kind === "unsupported") return { code: 400, body: "URL not supported", rows: [] };
    const fail = (code: number, body: string, rows: SystemLogEntry[] = []): Outcome => ({
      code,
      body,
      rows: [...rows, apiErrorEntry(code, body, apiKey, clientIp)],
    });

    // The web server's body limit comes before PHP (and so before the key check).
    const limit =
      route.kind === "tickets" && route.format === "email"
        ? this.#limits.maxEmailBytes
        : this.#limits.maxBodyBytes;
    let body: Buffer;
    try {
      body = route.kind === "cron" ? Buffer.alloc(0) : await readBody(req, limit, signal);
      // PHP parses a multipart/form-data body itself and leaves php://input, which osTicket reads, empty.
      if (isMultipartFormData(req.headers["content-type"])) body = Buffer.alloc(0);
    } catch (error) {
      if (error instanceof BodyTooLarge)
        return { code: 413, body: `Request Entity Too Large (at most ${limit} bytes)`, edge: true, rows: [] };
      throw error;
    }

    // requireApiKey(): the header must be truthy (PHP), then CheckApiKey gives osTicket's three outcomes.
    if (apiKey === undefined || apiKey === "" || apiKey === "0") return fail(401, "Valid API key required");
    const purpose = route.kind === "cron" ? ApiKeyPurpose.EXEC_CRON : ApiKeyPurpose.CREATE_TICKETS;
    const keyFailure = (outcome: ApiKeyCheckOutcome) =>
      fail(401, KEY_TEXT[outcome] ?? "Valid API key required");
    const reused = this.#keyTokens.get(apiKey, clientIp, purpose);
    if (reused !== undefined) {
      // The services re-read the key behind a bound token, so a success stands as it is. Anything else is
      // osTicket's answer only if the key still passes osTicket's check, which comes first there: check it.
      let outcome: Outcome | undefined;
      let failure: unknown;
      try {
        outcome = await this.#keyed(route, body, apiKey, clientIp, reused, signal, fail);
        if (outcome.code < 400) return outcome;
      } catch (error) {
        if (signal.aborted) throw error;
        failure = error;
      }
      const check = await this.#checkKey(apiKey, clientIp, purpose, signal);
      if (check.outcome !== ApiKeyCheckOutcome.OK) return keyFailure(check.outcome);
      if (outcome) return outcome;
      // The key passes, but a service refused the reused token (the key's row changed and changed back, or
      // the token ran out): nothing was done with it, so the request runs once more with the new token.
      if (!isCredentialRefusal(failure)) throw failure;
      return this.#keyed(route, body, apiKey, clientIp, check.token, signal, fail);
    }
    const check = await this.#checkKey(apiKey, clientIp, purpose, signal);
    if (check.outcome !== ApiKeyCheckOutcome.OK) return keyFailure(check.outcome);
    return this.#keyed(route, body, apiKey, clientIp, check.token, signal, fail);
  }

  /** CheckApiKey; keeps a bound token for the next requests with this key from this address. */
  async #checkKey(apiKey: string, clientIp: string, purpose: ApiKeyPurpose, signal: AbortSignal) {
    const check = await this.#backend.checkApiKey(apiKey, clientIp, purpose, signal);
    if (check.outcome === ApiKeyCheckOutcome.OK && check.reusableUntilMs !== undefined)
      this.#keyTokens.remember(apiKey, clientIp, purpose, check.token, check.reusableUntilMs);
    else this.#keyTokens.forget(apiKey, clientIp, purpose);
    return check;
  }

  /** Everything after osTicket's key check, with the access token issued for the key. */
  async #keyed(
    route: Exclude<LegacyRoute, { kind: "unsupported" }>,
    body: Buffer,
    apiKey: string,
    clientIp: string,
    token: string,
    signal: AbortSignal,
    fail: (code: number, body: string, rows?: SystemLogEntry[]) => Outcome,
  ): Promise<Outcome> {
    if (route.kind === "cron") {
      await this.#backend.runScheduledTasks(token, signal);
      return { code: 200, body: "Completed", rows: [cronRunEntry(clientIp)] };
    }
    if (route.format === "email") {
      try {
        const created = await this.#backend.ingestEmail(body, clientIp, token, signal);
        return { code: 201, body: created.number, rows: [] };
      } catch (error) {
        return this.#rejection(error, "", fail);
      }
    }

    // Parse and fix up as osTicket's parsers do.
    let document: PhpArray | undefined;
    if (route.format === "json") {
      const decoded = decodeJson(body);
      if (!decoded.ok) return fail(400, decoded.error);
      if (!isPhpArray(decoded.value) || decoded.value.size === 0) return fail(400, JSON_ERROR_TEXT.none);
      document = decoded.value;
    } else {
      const decoded = decodeXml(body);
      if (!decoded.ok) return fail(400, decoded.error);
      if (!isPhpArray(decoded.value) || decoded.value.size === 0) return fail(400, noXmlError(body));
      document = decoded.value;
    }
    let fixed: ReturnType<typeof fixupJson> | undefined;
    try {
      fixed = route.format === "json" ? fixupJson(document) : fixupXml(document);
      if (fixed) refuseCrashingValues(fixed.data);
    } catch (error) {
      // Where osTicket's PHP crashes (an empty 500): a clear 400, and nothing written.
      if (error instanceof LegacyInputError) return { code: 400, body: error.message, rows: [] };
      throw error;
    }
    if (!fixed || fixed.data.size === 0)
      return fail(400, route.format === "json" ? JSON_ERROR_TEXT.none : noXmlError(body));

    const topicId = phpString(fixed.data.get("topicId") ?? null) ?? "";
    const fieldNames = await this.#backend.formFieldNames(topicId, signal);
    const rows = unexpectedKeys(fixed.data, ticketRequestStructure(fieldNames)).map((path) =>
      unexpectedDataEntry(path, apiKey, clientIp),
    );
    const { attachments, poorlyEncoded } = prepareAttachments(fixed.files);
    if (poorlyEncoded.length > 0)
      this.#logger.warn({ files: poorlyEncoded.length }, "poorly encoded base64 attachments (import errors)");
    const request = createTicketRequest({
      data: fixed.data,
      message: fixed.message,
      attachments,
      fieldNames,
      clientIp,
    });
    try {
      const created = await this.#backend.createTicket(request, token, signal);
      return { code: 201, body: created.number, rows };
    } catch (error) {
      return this.#rejection(error, request.requester?.email ?? "", (code, text) => fail(code, text, rows));
    }
  }

  /** A refused create: validation (500 with osTicket's error map), denial (403), or unknown (500). */
  #rejection(
    error: unknown,
    email: string,
    fail: (code: number, body: string, rows?: SystemLogEntry[]) => Outcome,
  ): Outcome {
    if (!(error instanceof ConnectError)) throw error;
    const denied = error.findDetails(DeniedSchema)[0];
    if (error.code === Code.PermissionDenied && denied)
      return fail(403, `${CREATE_FAILED}Ticket denied: ${email || denied.email}\n\n${DENIED_TEXT}`);
    const validation = error.findDetails(ValidationErrorsSchema)[0];
    // A request osTicket could not even read (an e-mail its parser refuses): violations without an osTicket
    // error key are its parser's 400 with the bare text, not the create form's error map.
    if (
      validation &&
      validation.violations.length > 0 &&
      error.code === Code.InvalidArgument &&
      validation.violations.every((v) => v.legacyKey === "")
    )
      return fail(400, validation.violations.map((v) => v.description).join("\n"));
    if (validation && validation.violations.length > 0) {
      const map = validation.violations.map((v) => `${v.legacyKey}\n${v.description}`).join("\n");
      return fail(500, `${CREATE_FAILED}${map}`);
    }
    if (error.code === Code.InvalidArgument) return fail(400, error.rawMessage);
    throw error;
  }
}

/** A service's refusal of the caller's credential (not a decision about the request itself). */
function isCredentialRefusal(error: unknown): boolean {
  if (!(error instanceof ConnectError)) return false;
  if (error.code === Code.Unauthenticated) return true;
  return error.code === Code.PermissionDenied && error.findDetails(DeniedSchema).length === 0;
}

function abortOnClose(res: NodeResponse): AbortSignal {
  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) controller.abort(new ConnectError("the client went away", Code.Canceled));
  });
  return controller.signal;
}

/** Whether PHP's SAPI takes the body for a file upload form (`multipart/form-data`, any case). */
function isMultipartFormData(contentType: string | undefined): boolean {
  return /^\s*multipart\/form-data\b/i.test(contentType ?? "");
}
