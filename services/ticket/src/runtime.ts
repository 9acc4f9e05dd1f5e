import type { HandlerContext } from "@connectrpc/connect";
import type { EntityManager } from "@ostmesh/db";
import type { Logger } from "pino";
import type { TicketServiceConfig } from "./config.ts";
import { type Clock, type MailDomainVerifier, MetadataCache } from "./domain/index.ts";
import type { TicketEventWriter } from "./events.ts";
import type { CallOptions, FileStore } from "./files.ts";
import { PageTokens } from "./paging.ts";
import { type FulltextRules, loadFulltextRules } from "./read/search-text.ts";
import { ReferenceCache } from "./reference.ts";

/** Everything the ticket service's handlers work with; built once per process. */
export interface TicketServiceDeps {
  /** The service's ORM (one connection pool on the osTicket database). */
  readonly orm: { readonly em: EntityManager };
  /** Where events go: the writer for the outbox, and a nudge for the relay after a commit. */
  readonly outbox: { readonly events: TicketEventWriter; notify(): void };
  /** Pins SQL NOW() for writes (tests); absent = the database server's clock, as osTicket. */
  readonly clock?: Clock;
  readonly config: TicketServiceConfig;
  readonly clients?: {
    /** The attachment service (inline files of new entries); absent = requests with files are refused. */
    readonly files?: FileStore;
    /**
     * The ticket service's own credential for calls to other services; absent = the caller's
     * Authorization header is passed on.
     */
    readonly authorization?: (signal: AbortSignal) => Promise<string | undefined>;
  };
  /** Mail-domain check for new requesters (osTicket's verify_email_addrs); DNS when absent. */
  readonly verifyMailDomain?: MailDomainVerifier;
  /** Random source of ticket numbers (tests); Math.random when absent. */
  readonly random?: () => number;
  readonly logger?: Logger;
}

/** The process-wide state of the service built from its deps. */
export class Runtime {
  readonly deps: TicketServiceDeps;
  readonly refs: ReferenceCache;
  readonly metadata: MetadataCache;
  readonly pageTokens: PageTokens;
  #fulltext: Promise<FulltextRules | undefined> | undefined;

  constructor(deps: TicketServiceDeps) {
    this.deps = deps;
    this.refs = new ReferenceCache({ ttlMs: deps.config.metadataTtlMs });
    this.metadata = new MetadataCache({ ttlMs: deps.config.metadataTtlMs });
    this.pageTokens = new PageTokens(deps.config.pageTokenSecret);
  }

  /** The server's FULLTEXT rules, read once (again on the next search after a failed read). */
  fulltextRules(em: EntityManager): Promise<FulltextRules | undefined> {
    this.#fulltext ??= loadFulltextRules(em).catch((error: unknown) => {
      this.#fulltext = undefined;
      throw error;
    });
    return this.#fulltext;
  }

  /** A fresh EntityManager for one request. */
  em(): EntityManager {
    return this.deps.orm.em.fork();
  }

  /** Options for calls to other services made while serving `ctx`. */
  async callOptions(ctx: HandlerContext): Promise<CallOptions> {
    const own = await this.deps.clients?.authorization?.(ctx.signal);
    return { signal: ctx.signal, authorization: own ?? ctx.requestHeader.get("authorization") ?? undefined };
  }
}
