/**
 * RunScheduledTasks (osTicket's cron share: overdue marking and the database cleanups) and RecordSystemLog
 * (ost_syslog rows).
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type RecordSystemLogRequest,
  RecordSystemLogRequestSchema,
  type RecordSystemLogResponse,
  RecordSystemLogResponseSchema,
  type RunScheduledTasksRequest,
  RunScheduledTasksRequestSchema,
  type RunScheduledTasksResponse,
  RunScheduledTasksResponseSchema,
  type ScheduledCleanup,
  ScheduledCleanupOutcome,
  ScheduledCleanupSchema,
  SystemLogLevel,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { callerOf, domainActor, subjectOf } from "../access.ts";
import {
  findOverdueTicketIds,
  markOverdue,
  type SystemLogType,
  sqlFor,
  writeSystemLog,
} from "../domain/index.ts";
import {
  type CleanupLimits,
  type CleanupOutcome,
  type CleanupResult,
  deleteExpiredLocks,
  deleteExpiredPasswordResets,
  deleteExpiredSessions,
  deleteStaleDrafts,
  purgeSystemLog,
} from "../domain/maintenance.ts";
import { domainFailure, invalidArgument } from "../errors.ts";
import { runIdempotent } from "../idempotency.ts";
import type { Runtime } from "../runtime.ts";
import { Mutation } from "./mutation.ts";
import { publishDomainEvents } from "./publish.ts";

function nowMs(rt: Runtime): number {
  return rt.deps.clock ? rt.deps.clock.now().getTime() : Date.now();
}

const OUTCOMES: Readonly<Record<CleanupOutcome, ScheduledCleanupOutcome>> = {
  done: ScheduledCleanupOutcome.DONE,
  "more-left": ScheduledCleanupOutcome.MORE_LEFT,
  skipped: ScheduledCleanupOutcome.SKIPPED,
  failed: ScheduledCleanupOutcome.FAILED,
};

/** Runs one cleanup duty; its failure is logged and reported, and the run goes on with the next duty. */
async function cleanup(
  rt: Runtime,
  duty: string,
  run: () => Promise<CleanupResult>,
  signal: AbortSignal,
): Promise<ScheduledCleanup> {
  signal.throwIfAborted();
  const result = await run();
  if (result.outcome === "failed")
    rt.deps.logger?.warn(
      { err: result.error, duty, rowsDeleted: result.rowsDeleted },
      "scheduled cleanup failed",
    );
  return create(ScheduledCleanupSchema, {
    rowsDeleted: result.rowsDeleted,
    outcome: OUTCOMES[result.outcome],
  });
}

/**
 * Marks overdue tickets (Ticket::checkOverdue) in bounded batches: each ticket in its own transaction with
 * its event, so one failure spares the others and no transaction holds many ticket locks. A run stops after
 * `overdueMaxBatches` batches; the next run continues (the query finds what is still unmarked), so a retry
 * after a crash is harmless. Then the database cleanups of osTicket's cron, in its order (domain/maintenance.ts):
 * expired locks, the daily system-log purge, expired sessions, expired password-reset tokens, stale drafts;
 * each in batches of its own statements, a failure of one logged and reported without stopping the others.
 * The idempotency record only remembers the response of a completed run.
 */
export async function handleRunScheduledTasks(
  rt: Runtime,
  req: RunScheduledTasksRequest,
  ctx: HandlerContext,
): Promise<RunScheduledTasksResponse> {
  const principal = callerOf(ctx);
  const { overdueBatchSize, overdueMaxBatches } = rt.deps.config;
  try {
    const { response } = await runIdempotent(
      rt.em(),
      {
        rpc: "RunScheduledTasks",
        caller: subjectOf(principal),
        key: req.idempotencyKey,
        requestSchema: RunScheduledTasksRequestSchema,
        request: req,
        responseSchema: RunScheduledTasksResponseSchema,
      },
      async () => {
        const startedAt = nowMs(rt);
        const ref = await rt.refs.get(rt.em());
        const failed = new Set<number>();
        let marked = 0;
        for (let batch = 0; batch < overdueMaxBatches; batch++) {
          ctx.signal.throwIfAborted();
          const due = (await findOverdueTicketIds(sqlFor(rt.em()), overdueBatchSize + failed.size)).filter(
            (id) => !failed.has(id),
          );
          if (due.length === 0) break;
          for (const ticketId of due.slice(0, overdueBatchSize)) {
            try {
              const done = await rt.em().transactional(async (tx) => {
                const m = new Mutation(rt, tx, principal, ref);
                if (!(await markOverdue(m.sql, ticketId, domainActor(principal), m.ports))) return false;
                await publishDomainEvents(m, { after: await m.ticket(ticketId) });
                return true;
              });
              if (done) marked++;
            } catch (error) {
              failed.add(ticketId);
              rt.deps.logger?.warn({ err: error, ticketId }, "marking a ticket overdue failed");
            }
          }
        }
        if (marked > 0) rt.deps.outbox.notify();

        const { cleanupBatchSize, cleanupMaxBatches, sessionBackend } = rt.deps.config;
        const limits: CleanupLimits = {
          batchSize: cleanupBatchSize,
          maxBatches: cleanupMaxBatches,
          signal: ctx.signal,
        };
        // Outside any transaction: each DELETE batch commits on its own.
        const sql = sqlFor(rt.em());
        const expiredLocks = await cleanup(rt, "locks", () => deleteExpiredLocks(sql, limits), ctx.signal);
        const systemLogPurge = await cleanup(rt, "syslog", () => purgeSystemLog(sql, limits), ctx.signal);
        const expiredSessions = await cleanup(
          rt,
          "sessions",
          () => deleteExpiredSessions(sql, limits, sessionBackend),
          ctx.signal,
        );
        const expiredPasswordResets = await cleanup(
          rt,
          "pwresets",
          () => deleteExpiredPasswordResets(sql, limits),
          ctx.signal,
        );
        const staleDrafts = await cleanup(rt, "drafts", () => deleteStaleDrafts(sql, limits), ctx.signal);
        return create(RunScheduledTasksResponseSchema, {
          ticketsMarkedOverdue: marked,
          expiredLocks,
          staleDrafts,
          expiredSessions,
          expiredPasswordResets,
          systemLogPurge,
          startedAt: timestampFromMs(startedAt),
          finishedAt: timestampFromMs(nowMs(rt)),
        });
      },
    );
    return response;
  } catch (error) {
    throw (await domainFailure(error)) ?? error;
  }
}

const LOG_TYPES: Readonly<Partial<Record<SystemLogLevel, SystemLogType>>> = {
  [SystemLogLevel.DEBUG]: "Debug",
  [SystemLogLevel.WARNING]: "Warning",
  [SystemLogLevel.ERROR]: "Error",
};

/**
 * Writes ost_syslog rows as given (osTicket's text rules are the gateway's business), except those the
 * helpdesk's log level leaves out: like osTicket::log, a row is written only when `core.log_level` (admin
 * panel → Settings → System → Default Log Level: 1 errors, 2 warnings, 3 debug) is at least its level.
 */
export async function handleRecordSystemLog(
  rt: Runtime,
  req: RecordSystemLogRequest,
  ctx: HandlerContext,
): Promise<RecordSystemLogResponse> {
  if (req.entries.length === 0) throw invalidArgument("entries", "at least one entry is required");
  if (req.entries.length > 1000) throw invalidArgument("entries", "at most 1000 entries per call");
  for (const [i, e] of req.entries.entries()) {
    if (!LOG_TYPES[e.level]) throw invalidArgument(`entries[${i}].level`, "level is required");
    if (!e.title.trim()) throw invalidArgument(`entries[${i}].title`, "title is required");
  }
  try {
    const { response } = await runIdempotent(
      rt.em(),
      {
        rpc: "RecordSystemLog",
        caller: subjectOf(callerOf(ctx)),
        key: req.idempotencyKey,
        requestSchema: RecordSystemLogRequestSchema,
        request: req,
        responseSchema: RecordSystemLogResponseSchema,
      },
      async (tx) => {
        const logIds = await writeSystemLog(
          sqlFor(tx),
          req.entries.map((e) => ({
            type: LOG_TYPES[e.level] ?? "Error",
            title: e.title,
            message: e.message,
            logger: e.logger,
            ipAddress: e.ipAddress,
          })),
        );
        return create(RecordSystemLogResponseSchema, { logIds });
      },
    );
    return response;
  } catch (error) {
    throw (await domainFailure(error)) ?? error;
  }
}
