import { describe, expect, it } from "vitest";
import { decodeMessageId, encodeMessageId, systemMessageIdCode } from "./loopback.ts";

// Made by osTicket 1.18.1's own Mailer::getMessageId with SECRET_SALT "sAlT-Example-123", for the ticket
// owner (user 7) of thread entry 99 in thread 42, random part "Xy7_q", no sending mailbox.
const SALT = "sAlT-Example-123";
const PHP_MADE = "<BpSXRLv-Xy7_q-BwAAAGMAAAAqAAAAVeAVIhPe-@osTicketMailer>";

describe("osTicket's own Message-IDs", () => {
  it("derives the system code from the salt as osTicket does", () => {
    expect(systemMessageIdCode(SALT)).toBe("pSXRLv");
  });

  it("decodes an id osTicket made, and makes the same id from the same parts", () => {
    expect(decodeMessageId(PHP_MADE, SALT)).toEqual({
      loopback: true,
      uid: 7,
      entryId: 99,
      threadId: 42,
      userClass: "U",
      userId: 7,
    });
    expect(
      encodeMessageId(SALT, {
        uid: 7,
        entryId: 99,
        threadId: 42,
        userClass: "U",
        random: "Xy7_q",
        sender: "@osTicketMailer",
      }),
    ).toBe(PHP_MADE);
  });

  it("trusts nothing without the right salt or with a changed tag, and such an id is no loop", () => {
    expect(decodeMessageId(PHP_MADE, "another salt")).toEqual({ loopback: false });
    // This help desk's system code, but a tag that does not verify: decodeMessageId returns before it
    // compares the code (class.mailer.php), so osTicket posts the mail instead of stopping a loop.
    const tampered = PHP_MADE.replace("BwAAAGMA", "BwAAAGQA");
    expect(decodeMessageId(tampered, SALT)).toEqual({ loopback: false });
    expect(decodeMessageId(`<B${systemMessageIdCode(SALT)}-Xy7_q>`, SALT)).toEqual({ loopback: false });
    expect(decodeMessageId("<plain@mail.example.com>", SALT)).toEqual({ loopback: false });
    expect(decodeMessageId("<Zsomething-else@x>", SALT)).toBeUndefined();
  });

  it("maps the recipient class to a staff or user id", () => {
    const staff = encodeMessageId(SALT, {
      uid: 3,
      entryId: 5,
      threadId: 6,
      userClass: "S",
      random: "r",
      sender: "a@b",
    });
    expect(decodeMessageId(staff, SALT)).toMatchObject({ loopback: true, staffId: 3, userClass: "S" });
    const many = encodeMessageId(SALT, {
      uid: 0,
      entryId: 5,
      threadId: 6,
      userClass: "M",
      random: "r",
      sender: "a@b",
    });
    const decoded = decodeMessageId(many, SALT);
    expect(decoded).toMatchObject({ loopback: true, userClass: "M" });
    expect(decoded?.userId).toBeUndefined();
    expect(decoded?.staffId).toBeUndefined();
  });
});
