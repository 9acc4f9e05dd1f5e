import { describe, expect, it } from "vitest";
import { HelpdeskConfig } from "./config.ts";

describe("HelpdeskConfig applies osTicket's PHP defaults for absent keys", () => {
  const config = new HelpdeskConfig(
    new Map<string, string | null>([
      ["auto_claim_tickets", ""],
      ["max_open_tickets", ""],
      ["default_dept_id", "1"],
      ["ticket_sequence_id", ""],
    ]),
  );
  it("uses the table's value when the key exists, even an empty one", () => {
    expect(config.autoClaimTickets).toBe(false);
    expect(config.maxOpenTickets).toBe(0);
    expect(config.defaultDeptId).toBe(1);
    expect(config.ticketSequenceId).toBe(0);
  });
  it("falls back to OsticketConfig::$defaults and getDefaultTicketStatusId's 1", () => {
    expect(config.verifyEmailAddresses).toBe(true);
    expect(config.autoReferClosed).toBe(true);
    expect(config.defaultHelpTopicId).toBe(0);
    expect(config.get("default_storage_bk")).toBe("D");
    expect(config.flag("accept_unregistered_email")).toBe(true);
    expect(config.defaultTicketStatusId).toBe(1);
    expect(config.get("no_such_key")).toBeNull();
    expect(new HelpdeskConfig(new Map([["default_ticket_status_id", "3"]])).defaultTicketStatusId).toBe(3);
  });
});
