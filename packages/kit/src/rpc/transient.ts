import { Code, ConnectError } from "@connectrpc/connect";

/**
 * Failures a retry can cure, told apart from bugs so that callers learn they may try again:
 * - the database (or another backend reached over a socket) cannot be reached or dropped the connection
 *   (server down or restarting, network gone, too many connections) → UNAVAILABLE, the code gRPC clients and
 *   proxies retry;
 * - the transaction was chosen as a deadlock victim or waited too long for a lock, after the service's own
 *   retries → ABORTED (a conflict with concurrent work: retry the whole call).
 * Everything else is left to the caller (INTERNAL for errors nobody meant).
 *
 * Driver errors are recognised by the fields mysql2 sets (`code`, `errno`, `fatal`), which MikroORM copies
 * onto its own exceptions; the `cause` chain and AggregateError members (one per address tried) are searched.
 */

/** Socket-level and mysql2 connection-level error codes. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
]);

/** Server error numbers that mean "not now" rather than "not ever". */
const UNAVAILABLE_ERRNOS = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1053, // ER_SERVER_SHUTDOWN
  1152, // ER_ABORTING_CONNECTION
  1158, // ER_NET_READ_ERROR
  1159, // ER_NET_READ_INTERRUPTED
  1160, // ER_NET_ERROR_ON_WRITE
  1161, // ER_NET_WRITE_INTERRUPTED
  1203, // ER_TOO_MANY_USER_CONNECTIONS
  1927, // ER_CONNECTION_KILLED
  2002, // CR_CONNECTION_ERROR
  2003, // CR_CONN_HOST_ERROR
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
]);

const ER_LOCK_WAIT_TIMEOUT = 1205;
const ER_LOCK_DEADLOCK = 1213;

/** mysql2's texts for a command given to a connection that has already died (they carry no code). */
const CLOSED_STATE = /^Can't (add new command|write) (when connection is )?in closed state/;

type Transient = "unavailable" | "conflict";

function classify(error: unknown, depth: number): Transient | undefined {
  if (typeof error !== "object" || error === null || depth > 8) return undefined;
  const fields = error as {
    code?: unknown;
    errno?: unknown;
    syscall?: unknown;
    fatal?: unknown;
    message?: unknown;
  };
  const errno = typeof fields.errno === "number" && fields.errno > 0 ? fields.errno : undefined;
  if (errno === ER_LOCK_DEADLOCK || errno === ER_LOCK_WAIT_TIMEOUT) return "conflict";
  if (errno !== undefined && UNAVAILABLE_ERRNOS.has(errno)) return "unavailable";
  if (typeof fields.code === "string") {
    if (CONNECTION_CODES.has(fields.code)) return "unavailable";
    // A Unix socket that is not there (yet): the server is down or restarting.
    if (fields.code === "ENOENT" && fields.syscall === "connect") return "unavailable";
  }
  if (fields.fatal === true && typeof fields.message === "string" && CLOSED_STATE.test(fields.message)) {
    return "unavailable";
  }
  if (error instanceof AggregateError) {
    for (const member of error.errors) {
      const found = classify(member, depth + 1);
      if (found) return found;
    }
  }
  return "cause" in error ? classify(error.cause, depth + 1) : undefined;
}

/**
 * The public error for a failure a retry can cure (see above), keeping the original as `cause` for the
 * server's log; undefined for anything else.
 */
export function transientError(error: unknown): ConnectError | undefined {
  switch (classify(error, 0)) {
    case "unavailable":
      return new ConnectError(
        "temporarily unavailable: a backend this call needs cannot be reached; retry later",
        Code.Unavailable,
        undefined,
        undefined,
        error,
      );
    case "conflict":
      return new ConnectError(
        "the call conflicted with concurrent changes and was rolled back; retry it",
        Code.Aborted,
        undefined,
        undefined,
        error,
      );
    default:
      return undefined;
  }
}
