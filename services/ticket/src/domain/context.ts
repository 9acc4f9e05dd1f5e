import type { HtmlPolicy } from "@ostmesh/kit/osticket/html/format.ts";
import type { Actor, MailDomainVerifier, Ports, TicketDomainEvent } from "./ports.ts";
import { configAndClockRead, type HelpdeskConfig } from "./reference/config.ts";
import { MetadataCache } from "./reference/forms.ts";
import { Lookups, type Staff, staffStatement } from "./reference/lookups.ts";
import { type BatchRead, bothReads, noRead, type Row, type Sql } from "./sql.ts";
import type { LoggedThreadEvent } from "./thread/events.ts";
import { dnsMailDomainVerifier } from "./users/email.ts";

/** What every use case works with: its transaction, config, reference lookups and ports. */
export interface UseCaseContext {
  readonly tx: Sql;
  readonly config: HelpdeskConfig;
  readonly lookups: Lookups;
  readonly metadata: MetadataCache;
  readonly actor: Actor;
  /** The acting agent's row when the actor is staff. */
  readonly staff: Staff | undefined;
  /** DB clock (epoch seconds) at the start of the use case. */
  readonly now: number;
  readonly random: () => number;
  readonly htmlPolicy: HtmlPolicy;
  readonly verifyMailDomain: MailDomainVerifier;
  emit(event: TicketDomainEvent): Promise<void>;
  /** Reports a thread event the use case wrote (the `threadEventLogged` port). */
  threadEventLogged(event: LoggedThreadEvent): void;
}

/**
 * Sets up a use case inside `tx`: pins SQL NOW() when a clock port is given (reset afterwards, since the
 * session variable outlives the transaction), reads config and the DB clock, and resolves the acting agent.
 */
export function withUseCase<T>(
  tx: Sql,
  actor: Actor,
  ports: Ports,
  work: (ctx: UseCaseContext) => Promise<T>,
): Promise<T> {
  return withUseCaseReading(tx, actor, ports, noRead(undefined), work);
}

/**
 * withUseCase, with `prelude` read in the round trip that reads config, the DB clock and the acting agent
 * (a read that needs none of them, e.g. the ticket the use case changes): `work` gets what it read.
 */
export async function withUseCaseReading<P, T>(
  tx: Sql,
  actor: Actor,
  ports: Ports,
  prelude: BatchRead<P>,
  work: (ctx: UseCaseContext, prelude: P) => Promise<T>,
): Promise<T> {
  const pinned = ports.clock ? Math.floor(ports.clock.now().getTime() / 1000) : undefined;
  if (pinned === undefined) return run(tx, actor, ports, prelude, work);
  await tx.run("SET timestamp = ?", [pinned]);
  let result: T;
  try {
    result = await run(tx, actor, ports, prelude, work);
  } catch (error) {
    // Keep the original error; a connection that cannot reset is discarded with the failed transaction.
    await tx.run("SET timestamp = DEFAULT").catch(() => undefined);
    throw error;
  }
  await tx.run("SET timestamp = DEFAULT");
  return result;
}

async function run<P, T>(
  tx: Sql,
  actor: Actor,
  ports: Ports,
  prelude: BatchRead<P>,
  work: (ctx: UseCaseContext, prelude: P) => Promise<T>,
): Promise<T> {
  const staffId = actor.kind === "staff" ? actor.staffId : 0;
  const staffRead: BatchRead<Row | undefined> = staffId
    ? { statements: [staffStatement(staffId)], read: ([rows = []]) => rows[0] }
    : noRead(undefined);
  const [{ config, now, nowMs }, [staffRow, before]] = await tx.read(
    bothReads(configAndClockRead(), bothReads(staffRead, prelude)),
  );
  ports.clockRead?.(nowMs);
  const metadata = ports.metadata ?? new MetadataCache({ ttlMs: 0 });
  const lookups = new Lookups(tx, config, metadata);
  if (staffId) lookups.rememberStaff(staffId, staffRow);
  const staff = staffId ? await lookups.staff(staffId) : undefined;
  const whitelist = (config.get("embedded_domain_whitelist") ?? "")
    .split(",")
    .map((d) => d.trim())
    .filter(Boolean);
  return await work(
    {
      tx,
      config,
      lookups,
      metadata,
      actor,
      staff,
      now,
      random: ports.random ?? Math.random,
      htmlPolicy: { iframeDomains: whitelist },
      verifyMailDomain: ports.verifyMailDomain ?? dnsMailDomainVerifier(),
      emit: async (event) => {
        if (ports.emit) await ports.emit(event, tx);
      },
      threadEventLogged: (event) => ports.threadEventLogged?.(event),
    },
    before,
  );
}

/** ucfirst(): osTicket stores `source` like this; the enum match is case-insensitive. */
export function ucfirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The `ost_ticket.source` enum value MySQL stores for a source string ('' when it matches none). */
export function ticketSourceEnum(source: string): string {
  const known = ["Web", "Email", "Phone", "API", "Other"];
  return known.find((k) => k.toLowerCase() === source.toLowerCase()) ?? "";
}
