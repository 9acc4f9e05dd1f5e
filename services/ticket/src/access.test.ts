/**
 * The BOLA matrix: every ticket RPC that targets a ticket, called by every kind of caller with real
 * credentials, must answer exactly as osTicket's access rules say (NOT_FOUND where a ticket must not be
 * revealed, PERMISSION_DENIED where it is visible but the action is not allowed).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { bolaHeaders, runBolaMatrix } from "@ostmesh/kit/auth/testing/matrix.ts";
import {
  BOLA_CALLERS,
  type BolaCaller,
  type BolaOutcome,
  type BolaWorld,
  createBolaWorld,
} from "@ostmesh/kit/auth/testing/world.ts";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TicketHarness, ticketHarness } from "./testing/harness.ts";

let h: TicketHarness;
let world: BolaWorld;

beforeAll(async () => {
  h = await ticketHarness("bola");
  world = await createBolaWorld(h.db.url);
});
afterAll(async () => {
  await world?.close();
  await h?.close();
});

const NF = Code.NotFound;
const PD = Code.PermissionDenied;

/** Who may see the `plain` ticket (Support, owner + collaborator, open, unassigned). */
const READ: Record<BolaCaller, BolaOutcome> = {
  agentWithAccess: "ok",
  agentViewOnly: "ok",
  agentLimitedExtraDept: "ok",
  agentWithoutAccess: NF,
  agentAssignedOnly: NF,
  agentTeamMember: NF,
  endUserOwner: "ok",
  endUserCollaborator: "ok",
  endUserOther: NF,
  orgMemberShared: NF,
  orgMemberNotShared: NF,
  orgPrimaryContact: NF,
  apiKeyWithScope: "ok",
  apiKeyWithoutScope: PD,
  anonymous: Code.Unauthenticated,
};

/** Agent-side writes: end users are not allowed to call them at all. */
const AGENT_WRITE: Record<BolaCaller, BolaOutcome> = {
  ...READ,
  endUserOwner: PD,
  endUserCollaborator: PD,
  endUserOther: PD,
  orgMemberShared: PD,
  orgMemberNotShared: PD,
  orgPrimaryContact: PD,
};

describe("ticket access rules", () => {
  it("hold for every RPC and every caller", async () => {
    const plain = world.tickets.plain;
    const failures = await runBolaMatrix(world, h.issuer, [
      {
        name: "GetTicket",
        call: (headers) => h.client.getTicket({ lookup: { case: "ticketId", value: plain } }, { headers }),
        expect: READ,
      },
      {
        name: "ListThreadEntries",
        call: (headers) => h.client.listThreadEntries({ ticketId: plain }, { headers }),
        expect: READ,
      },
      {
        name: "PostNote",
        call: (headers) => h.client.postNote({ ticketId: plain, title: "n", body: "note" }, { headers }),
        expect: AGENT_WRITE,
      },
      {
        name: "PostReply",
        call: (headers) =>
          h.client.postReply(
            { ticketId: plain, body: "reply", staffId: world.staff.withAccess, notify: false },
            { headers },
          ),
        // ticket.reply: View only and Limited Access roles lack it.
        expect: { ...AGENT_WRITE, agentViewOnly: PD, agentLimitedExtraDept: PD },
      },
      {
        name: "PostMessage",
        call: (headers) => h.client.postMessage({ ticketId: plain, body: "message" }, { headers }),
        expect: {
          ...READ,
          agentWithAccess: PD,
          agentViewOnly: PD,
          agentLimitedExtraDept: PD,
          agentWithoutAccess: PD,
          agentAssignedOnly: PD,
          agentTeamMember: PD,
        },
      },
    ]);
    expect(failures).toEqual([]);
  });

  it("lists and searches only the tickets a caller may see", async () => {
    for (const caller of BOLA_CALLERS) {
      const headers = await bolaHeaders(world, h.issuer, caller);
      let listed: boolean | number;
      try {
        const res = await h.client.listTickets({ pageSize: 200 }, { headers });
        listed = res.tickets.some((t) => t.id === world.tickets.plain);
      } catch (error) {
        listed = ConnectError.from(error).code;
      }
      const expected = READ[caller];
      expect({ caller, listed }).toEqual({
        caller,
        listed: expected === "ok" ? true : expected === NF ? false : expected,
      });
    }
  });

  it("never shows internal notes to end users", async () => {
    const headers = await bolaHeaders(world, h.issuer, "endUserOwner");
    const res = await h.client.listThreadEntries(
      { ticketId: world.tickets.plain, pageSize: 200 },
      { headers },
    );
    expect(res.entries.length).toBeGreaterThan(0);
    expect(res.entries.some((e) => e.type === ThreadEntryType.NOTE)).toBe(false);
    expect(res.entries.map((e) => e.id)).not.toContain(world.entries.note);
  });
});
