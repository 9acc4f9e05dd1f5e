/**
 * ost_syslog rows for legacy API traffic, as osTicket writes them: errors are Warning rows titled
 * "API Error (<code>)" (ApiController::onError; a ban/filter denial too: exerr() drops the "Ticket denied"
 * title it is given), each unexpected key an Error row titled "Unexpected Data (400)"; the text is the
 * response body with newlines turned into spaces, followed by " [<api key>] " when a key was sent. A cron
 * run leaves a Debug row "Cron Job". The ticket service writes only the rows the helpdesk's log level
 * (`core.log_level`) admits, as osTicket::log does.
 *
 * One deliberate difference: osTicket writes the key in clear text; ostmesh writes it masked (first and
 * last four characters), because an API key must never be stored in a log in clear text.
 */
import { create } from "@bufbuild/protobuf";
import { sanitizeLogText } from "@ostmesh/kit/osticket/text.ts";
import {
  type SystemLogEntry,
  SystemLogEntrySchema,
  SystemLogLevel,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { phpTruthy } from "./php.ts";

/** A key as it may appear in logs: `ABCD********WXYZ`; short keys are masked entirely. */
export function maskApiKey(key: string): string {
  if (key.length < 16) return "********";
  return `${key.slice(0, 4)}********${key.slice(-4)}`;
}

/** A log text as osTicket's legacy API writes it: on one line (newlines become spaces), then sanitized. */
function logLine(text: string): string {
  return sanitizeLogText(text.replace(/\r\n|\r|\n/g, " "));
}

function withKey(text: string, apiKey: string | undefined): string {
  const flat = logLine(text);
  return phpTruthy(apiKey) ? `${flat} [${maskApiKey(apiKey)}] ` : flat;
}

/** The Warning row of an error response. */
export function apiErrorEntry(
  code: number,
  body: string,
  apiKey: string | undefined,
  clientIp: string,
): SystemLogEntry {
  return create(SystemLogEntrySchema, {
    level: SystemLogLevel.WARNING,
    title: `API Error (${code})`,
    message: withKey(body, apiKey),
    ipAddress: clientIp,
    logger: "",
  });
}

/** The Debug row of a cron run (CronApiController::run). */
export function cronRunEntry(clientIp: string): SystemLogEntry {
  return create(SystemLogEntrySchema, {
    level: SystemLogLevel.DEBUG,
    title: "Cron Job",
    message: logLine(`Cron job executed [${clientIp}]`),
    ipAddress: clientIp,
    logger: "",
  });
}

/** The Error row of one unexpected request key. */
export function unexpectedDataEntry(
  path: string,
  apiKey: string | undefined,
  clientIp: string,
): SystemLogEntry {
  return create(SystemLogEntrySchema, {
    level: SystemLogLevel.ERROR,
    title: "Unexpected Data (400)",
    message: withKey(`${path}: Unexpected data received in API request`, apiKey),
    ipAddress: clientIp,
    logger: "",
  });
}
