/** Dates in e-mails: osTicket's FormattedDate, shared with the ticket service (canned responses). */
export { dateTimePattern, formatIcuDate } from "@ostmesh/kit/osticket/dates.ts";
