import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { TicketService } from "@ostmesh/proto";
import type {
  AssignTicketRequest,
  ChangeStatusRequest,
  CreateTicketRequest,
  GetHelpTopicFormRequest,
  GetTicketRequest,
  IngestEmailRequest,
  ListDepartmentsRequest,
  ListHelpTopicsRequest,
  ListPrioritiesRequest,
  ListSlasRequest,
  ListStatusesRequest,
  ListThreadEntriesRequest,
  ListTicketsRequest,
  PostMessageRequest,
  PostNoteRequest,
  PostReplyRequest,
  RecordSystemLogRequest,
  RunScheduledTasksRequest,
  SearchTicketsRequest,
  TransferTicketRequest,
  UpdateTicketRequest,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import {
  handleAssignTicket,
  handleChangeStatus,
  handlePostMessage,
  handlePostNote,
  handlePostReply,
  handleTransferTicket,
  handleUpdateTicket,
} from "./handlers/actions.ts";
import { handleCreateTicket } from "./handlers/create.ts";
import { handleIngestEmail } from "./handlers/email.ts";
import {
  handleGetTicket,
  handleListThreadEntries,
  handleListTickets,
  handleSearchTickets,
} from "./handlers/reads.ts";
import {
  handleGetHelpTopicForm,
  handleListDepartments,
  handleListHelpTopics,
  handleListPriorities,
  handleListSlas,
  handleListStatuses,
} from "./handlers/reference.ts";
import { handleRecordSystemLog, handleRunScheduledTasks } from "./handlers/system.ts";
import { Runtime, type TicketServiceDeps } from "./runtime.ts";

/**
 * osticket.ticket.v1.TicketService over osTicket's own tables. Reads go straight to SQL (batched, keyset
 * paged); every write is one transaction of a domain use case, its outbox events and its idempotency
 * record. Authorization comes from the principal the auth interceptor resolved (see access.ts).
 */
export class TicketServiceImpl implements ServiceImpl<typeof TicketService> {
  readonly #rt: Runtime;

  constructor(deps: TicketServiceDeps) {
    this.#rt = new Runtime(deps);
  }

  /** The service's shared state (reference cache, page tokens), for the process wiring and tests. */
  get runtime(): Runtime {
    return this.#rt;
  }

  createTicket(req: CreateTicketRequest, ctx: HandlerContext) {
    return handleCreateTicket(this.#rt, req, ctx);
  }

  ingestEmail(req: IngestEmailRequest, ctx: HandlerContext) {
    return handleIngestEmail(this.#rt, req, ctx);
  }

  getTicket(req: GetTicketRequest, ctx: HandlerContext) {
    return handleGetTicket(this.#rt, req, ctx);
  }

  listTickets(req: ListTicketsRequest, ctx: HandlerContext) {
    return handleListTickets(this.#rt, req, ctx);
  }

  searchTickets(req: SearchTicketsRequest, ctx: HandlerContext) {
    return handleSearchTickets(this.#rt, req, ctx);
  }

  listThreadEntries(req: ListThreadEntriesRequest, ctx: HandlerContext) {
    return handleListThreadEntries(this.#rt, req, ctx);
  }

  postReply(req: PostReplyRequest, ctx: HandlerContext) {
    return handlePostReply(this.#rt, req, ctx);
  }

  postMessage(req: PostMessageRequest, ctx: HandlerContext) {
    return handlePostMessage(this.#rt, req, ctx);
  }

  postNote(req: PostNoteRequest, ctx: HandlerContext) {
    return handlePostNote(this.#rt, req, ctx);
  }

  changeStatus(req: ChangeStatusRequest, ctx: HandlerContext) {
    return handleChangeStatus(this.#rt, req, ctx);
  }

  assignTicket(req: AssignTicketRequest, ctx: HandlerContext) {
    return handleAssignTicket(this.#rt, req, ctx);
  }

  transferTicket(req: TransferTicketRequest, ctx: HandlerContext) {
    return handleTransferTicket(this.#rt, req, ctx);
  }

  updateTicket(req: UpdateTicketRequest, ctx: HandlerContext) {
    return handleUpdateTicket(this.#rt, req, ctx);
  }

  runScheduledTasks(req: RunScheduledTasksRequest, ctx: HandlerContext) {
    return handleRunScheduledTasks(this.#rt, req, ctx);
  }

  recordSystemLog(req: RecordSystemLogRequest, ctx: HandlerContext) {
    return handleRecordSystemLog(this.#rt, req, ctx);
  }

  listDepartments(req: ListDepartmentsRequest, ctx: HandlerContext) {
    return handleListDepartments(this.#rt, req, ctx);
  }

  listHelpTopics(req: ListHelpTopicsRequest, ctx: HandlerContext) {
    return handleListHelpTopics(this.#rt, req, ctx);
  }

  listPriorities(req: ListPrioritiesRequest, ctx: HandlerContext) {
    return handleListPriorities(this.#rt, req, ctx);
  }

  listStatuses(req: ListStatusesRequest, ctx: HandlerContext) {
    return handleListStatuses(this.#rt, req, ctx);
  }

  listSlas(req: ListSlasRequest, ctx: HandlerContext) {
    return handleListSlas(this.#rt, req, ctx);
  }

  getHelpTopicForm(req: GetHelpTopicFormRequest, ctx: HandlerContext) {
    return handleGetHelpTopicForm(this.#rt, req, ctx);
  }
}
