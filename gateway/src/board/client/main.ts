/**
 * The live ticket board (browser code, bundled by ../build.ts): signs in through the gateway, lists tickets
 * with TicketService.ListTickets and keeps the list current from NotificationService.WatchEvents, all with
 * Connect-Web over the gateway's HTTP/1.1 port. A dropped stream is resumed after the last sequence seen.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { SortDirection } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import type { Event } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { IdentityService } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import { NotificationService } from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import type { Ticket } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { TicketService, TicketSortField } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";

interface Row {
  id: number;
  number: string;
  subject: string;
  status: string;
  department: string;
  assignee: string;
  /** Last change seen, ms since the epoch. */
  updated: number;
  /** Type of the last event that touched the row. */
  lastEvent: string;
}

const TOKEN_KEY = "ostmesh.board.token";
const rows = new Map<number, Row>();
let token = sessionStorage.getItem(TOKEN_KEY) ?? "";
let lastSequence = 0n;
let eventsSeen = 0;

const element = <T extends HTMLElement>(id: string, type: { new (): T }): T => {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`#${id} is missing`);
  return found;
};

const auth: Interceptor = (next) => async (req) => {
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};
const transport = createConnectTransport({ baseUrl: location.origin, interceptors: [auth] });
const identity = createClient(IdentityService, transport);
const tickets = createClient(TicketService, transport);
const notifications = createClient(NotificationService, transport);

function setStatus(state: "signed-out" | "loading" | "live" | "reconnecting" | "error", text: string): void {
  const status = element("status", HTMLElement);
  status.dataset.state = state;
  status.textContent = text;
}

function rowOf(ticket: Ticket): Row {
  const updated = ticket.updatedAt ?? ticket.createdAt;
  return {
    id: ticket.id,
    number: ticket.number,
    subject: ticket.subject,
    status: ticket.status?.name ?? "",
    department: ticket.department?.name ?? "",
    assignee: ticket.assigneeStaff?.name || ticket.assigneeTeam?.name || "",
    updated: updated ? timestampDate(updated).getTime() : Date.now(),
    lastEvent: "",
  };
}

function render(): void {
  const body = element("tickets", HTMLTableSectionElement);
  const sorted = [...rows.values()].sort((a, b) => b.updated - a.updated || b.id - a.id);
  body.replaceChildren(
    ...sorted.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.ticketId = String(row.id);
      tr.dataset.number = row.number;
      tr.dataset.lastEvent = row.lastEvent;
      for (const [field, value] of [
        ["number", row.number],
        ["subject", row.subject],
        ["status", row.status],
        ["department", row.department],
        ["assignee", row.assignee],
        ["updated", new Date(row.updated).toLocaleString()],
      ] as const) {
        const td = document.createElement("td");
        td.dataset.field = field;
        td.textContent = value;
        tr.append(td);
      }
      if (row.lastEvent) tr.classList.add("changed");
      return tr;
    }),
  );
  element("count", HTMLElement).textContent = `${rows.size} tickets, ${eventsSeen} events`;
}

/** Applies one event to the list. */
function apply(event: Event): void {
  const id = event.ticket?.ticketId ?? 0;
  if (!id) return;
  const when = event.occurredAt ? timestampDate(event.occurredAt).getTime() : Date.now();
  const p = event.payload;
  if (p.case === "ticketDeleted") {
    rows.delete(id);
    return;
  }
  const known = rows.get(id);
  const row: Row =
    (p.case === "ticketCreated" || p.case === "ticketUpdated") && p.value.ticket
      ? { ...rowOf(p.value.ticket), id }
      : (known ?? {
          id,
          number: event.ticket?.number ?? String(id),
          subject: "",
          status: "",
          department: "",
          assignee: "",
          updated: when,
          lastEvent: "",
        });
  switch (p.case) {
    case "ticketStatusChanged":
      row.status = p.value.current?.name || row.status;
      break;
    case "ticketTransferred":
      row.department = p.value.current?.name || row.department;
      break;
    case "ticketAssigned":
      row.assignee = p.value.released ? "" : p.value.staff?.name || p.value.team?.name || row.assignee;
      break;
    default:
      break;
  }
  row.updated = Math.max(row.updated, when);
  row.lastEvent = event.type;
  rows.set(id, row);
}

async function load(): Promise<void> {
  setStatus("loading", "Loading tickets…");
  const res = await tickets.listTickets({
    pageSize: 100,
    sortField: TicketSortField.UPDATED_AT,
    sortDirection: SortDirection.DESC,
  });
  rows.clear();
  for (const ticket of res.tickets) rows.set(ticket.id, rowOf(ticket));
  render();
}

/** Follows the event stream for good: resumes after the last sequence when the stream drops. */
async function follow(): Promise<void> {
  let delayMs = 500;
  for (;;) {
    try {
      setStatus(lastSequence > 0n ? "reconnecting" : "loading", "Connecting to the live stream…");
      const stream = notifications.watchEvents({
        afterSequence: lastSequence,
        heartbeatInterval: { seconds: 15n },
      });
      setStatus("live", "Live");
      for await (const res of stream) {
        lastSequence = res.sequence;
        delayMs = 500;
        if (res.item.case !== "event") continue;
        eventsSeen++;
        apply(res.item.value);
        render();
      }
    } catch (error) {
      const e = ConnectError.from(error);
      if (e.code === Code.Unauthenticated) {
        signOut("Your session has ended; sign in again.");
        return;
      }
      if (e.code === Code.OutOfRange) {
        // Too far behind: start again from a fresh list.
        lastSequence = 0n;
        await load().catch(() => undefined);
      }
      setStatus("reconnecting", `Reconnecting (${e.rawMessage})…`);
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, 10_000);
  }
}

function signOut(message: string): void {
  token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  element("login", HTMLFormElement).hidden = false;
  element("board", HTMLElement).hidden = true;
  setStatus("signed-out", message);
}

async function start(): Promise<void> {
  element("login", HTMLFormElement).hidden = true;
  element("board", HTMLElement).hidden = false;
  try {
    await load();
  } catch (error) {
    const e = ConnectError.from(error);
    if (e.code === Code.Unauthenticated) return signOut("Sign in to see the board.");
    setStatus("error", `Cannot list tickets: ${e.rawMessage}`);
    return;
  }
  void follow();
}

element("login", HTMLFormElement).addEventListener("submit", (e) => {
  e.preventDefault();
  const form = new FormData(element("login", HTMLFormElement));
  setStatus("loading", "Signing in…");
  identity
    .login({
      kind: PrincipalKind.AGENT,
      username: String(form.get("username") ?? ""),
      password: String(form.get("password") ?? ""),
    })
    .then(
      (res) => {
        token = res.tokens?.accessToken ?? "";
        sessionStorage.setItem(TOKEN_KEY, token);
        return start();
      },
      (error: unknown) => setStatus("signed-out", `Sign-in failed: ${ConnectError.from(error).rawMessage}`),
    );
});

if (token) void start();
else signOut("Sign in to see the board.");
