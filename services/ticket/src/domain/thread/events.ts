import type { Actor } from "../ports.ts";
import type { Lookups } from "../reference/lookups.ts";
import { phpJsonEncode } from "../rows.ts";
import type { Sql, SqlValue } from "../sql.ts";
import { findUserById } from "../users/requester.ts";

/** Who an event is attributed to: ost_thread_event.uid / uid_type / username. */
export interface EventAuthor {
  readonly uid: number | null;
  readonly uidType: "S" | "U";
  readonly username: string;
}

/**
 * The author osTicket records for the acting principal when no user object is handed to the event
 * (ThreadEvent::create + ThreadEvents::log): an agent by id and username; a portal user by name (with an
 * account) or e-mail but with uid NULL and uid_type 'S', since `$thisclient` is a ClientSession, which is
 * neither a Staff nor a User (events that pass the User itself, like `created`, set uid and 'U' on top);
 * anything else as SYSTEM. A string `username` (e.g. "Ticket Filter") replaces the name but not the uid.
 */
export async function actorAuthor(
  lookups: Lookups,
  tx: Sql,
  actor: Actor,
  username?: string,
): Promise<EventAuthor> {
  if (actor.kind === "staff") {
    const staff = await lookups.staff(actor.staffId);
    return { uid: actor.staffId, uidType: "S", username: username ?? staff?.username ?? "SYSTEM" };
  }
  if (actor.kind === "user") {
    let name = username;
    if (name === undefined) {
      const user = await findUserById(tx, actor.userId);
      name = (user?.hasAccount ? user.name : "") || user?.email || "SYSTEM";
    }
    return { uid: null, uidType: "S", username: name };
  }
  return { uid: null, uidType: "S", username: username ?? "SYSTEM" };
}

export interface NewThreadEvent {
  readonly threadId: number;
  /** ost_event name: created, closed, reopened, assigned, released, transferred, overdue, edited, collab... */
  readonly state: string;
  /** Encoded as JSON when an object. */
  readonly data?: Readonly<Record<string, unknown>> | null;
  /** Assignment snapshot at event time. */
  readonly staffId: number;
  readonly teamId: number;
  readonly deptId: number;
  readonly topicId: number;
  readonly author: EventAuthor;
}

/** A thread event a use case wrote (ports' `threadEventLogged`). */
export interface LoggedThreadEvent {
  readonly id: number;
  /** ost_event name. */
  readonly state: string;
}

/**
 * INSERTs thread events of a ticket (`thread_type` T) in order, in one statement, and reports each row's id
 * to `logged`. InnoDB reserves one consecutive block of ids for a multi-row INSERT ... VALUES (its row count
 * is known up front), so the ids are the first id onwards. The INSERT travels with the transaction's next
 * statement (`laterWithResult`): the ids reach `logged` then, and whoever reads them settles `tx` first.
 */
export async function logEvents(
  tx: Sql,
  lookups: Lookups,
  events: readonly NewThreadEvent[],
  logged?: (event: LoggedThreadEvent) => void,
): Promise<void> {
  if (!events.length) return;
  const params: SqlValue[] = [];
  for (const e of events) {
    params.push(
      e.threadId,
      await lookups.eventId(e.state),
      e.staffId,
      e.teamId,
      e.deptId,
      e.topicId,
      e.data ? phpJsonEncode(e.data) : null,
      e.author.username,
      e.author.uid,
      e.author.uidType,
    );
  }
  const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'T', NOW())";
  tx.laterWithResult(
    "INSERT INTO ost_thread_event (thread_id, event_id, staff_id, team_id, dept_id, topic_id, data, username," +
      ` uid, uid_type, thread_type, timestamp) VALUES ${events.map(() => row).join(", ")}`,
    params,
    ({ insertId }) => {
      if (!logged || insertId <= 0) return;
      for (const [i, e] of events.entries()) logged({ id: insertId + i, state: e.state });
    },
  );
}

/** Marks earlier events of a state as superseded (e.g. every `closed` event on reopen / re-close). */
export async function annulEvents(tx: Sql, lookups: Lookups, threadId: number, state: string): Promise<void> {
  tx.later("UPDATE ost_thread_event SET annulled = 1 WHERE thread_id = ? AND event_id = ?", [
    threadId,
    await lookups.eventId(state),
  ]);
}
