import { decodeMessageId } from "@ostmesh/ticket/email/loopback.ts";
import { describe, expect, it } from "vitest";
import { osTicketMessageId, stableRandomPart, systemMessageIdCode } from "./message-id.ts";

// Made by osTicket 1.18.1's own Mailer::getMessageId with SECRET_SALT "sAlT-Example-123", for the ticket
// owner (user 7) of thread entry 99 in thread 42, random part "Xy7_q", no sending mailbox.
const SALT = "sAlT-Example-123";
const PHP_MADE = "<BpSXRLv-Xy7_q-BwAAAGMAAAAqAAAAVeAVIhPe-@osTicketMailer>";

describe("osTicket's Message-IDs made by the notification service", () => {
  it("are the ids osTicket's mailer makes from the same parts", () => {
    expect(systemMessageIdCode(SALT)).toBe("pSXRLv");
    expect(
      osTicketMessageId(SALT, {
        uid: 7,
        entryId: 99,
        threadId: 42,
        userClass: "U",
        random: "Xy7_q",
        sender: "@osTicketMailer",
      }),
    ).toBe(PHP_MADE);
  });

  it("are accepted by the ticket service's decoder as this help desk's own, naming entry, thread and recipient", () => {
    const random = stableRandomPart("event-1\u0000ticket.alert\u0000jane@example.org");
    const toAgent = osTicketMessageId(SALT, {
      uid: 2,
      entryId: 31,
      threadId: 25,
      userClass: "S",
      random,
      sender: "support@example.com",
    });
    expect(toAgent).toMatch(/^<BpSXRLv-[a-ik-zA-Z0-9_=]{5}-[A-Za-z0-9+/]{24}-support@example\.com>$/);
    expect(decodeMessageId(toAgent, SALT)).toEqual({
      loopback: true,
      uid: 2,
      entryId: 31,
      threadId: 25,
      userClass: "S",
      staffId: 2,
    });
    const toList = osTicketMessageId(SALT, {
      uid: 0,
      entryId: 40,
      threadId: 25,
      userClass: "M",
      random,
      sender: "support@example.com",
    });
    expect(decodeMessageId(toList, SALT)).toEqual({
      loopback: true,
      uid: 0,
      entryId: 40,
      threadId: 25,
      userClass: "M",
    });
    // Signed with the salt: another installation's salt does not trust it.
    expect(decodeMessageId(toAgent, "another salt")).toEqual({ loopback: false });
  });

  it("have a random part of osTicket's characters, the same for the same mail and different for another", () => {
    const one = stableRandomPart("event-1\u0000ticket.alert\u0000jane@example.org");
    expect(one).toMatch(/^[a-ik-zA-Z0-9_=]{5}$/);
    expect(stableRandomPart("event-1\u0000ticket.alert\u0000jane@example.org")).toBe(one);
    const others = new Set(
      Array.from({ length: 50 }, (_, i) => stableRandomPart(`event-${i}\u0000ticket.alert\u0000a@b`)),
    );
    expect(others.size).toBe(50);
  });
});
