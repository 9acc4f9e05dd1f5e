import { createHash } from "node:crypto";
import { create, type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { type Duration, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type EntityManager, type IdempotencyCodec, type Orm, withIdempotency } from "@ostmesh/db";
import type { Logger } from "@ostmesh/kit";
import {
  type AttachFilesRequest,
  AttachFilesRequestSchema,
  type AttachFilesResponse,
  AttachFilesResponseSchema,
  type AttachmentService,
  type ByteRange,
  type CreateDownloadLinkRequest,
  type CreateDownloadLinkResponse,
  CreateDownloadLinkResponseSchema,
  type DownloadFileRequest,
  type DownloadFileResponse,
  DownloadFileResponseSchema,
  type GetFileInfoRequest,
  type GetFileInfoResponse,
  GetFileInfoResponseSchema,
  type ListAttachmentsRequest,
  type ListAttachmentsResponse,
  ListAttachmentsResponseSchema,
  type PurgeOrphanFilesRequest,
  PurgeOrphanFilesRequestSchema,
  type PurgeOrphanFilesResponse,
  PurgeOrphanFilesResponseSchema,
  type UploadFileRequest,
  UploadFileRequestSchema,
  type UploadFileResponse,
  UploadFileResponseSchema,
  type UploadFileStreamRequest,
  type UploadFileStreamResponse,
  UploadFileStreamResponseSchema,
} from "@ostmesh/proto/gen/osticket/attachment/v1/attachment_service_pb.js";
import type { AttachmentConfig } from "../config.ts";
import type { Disposition, DownloadLinkSigner } from "../links/index.ts";
import {
  type AttachmentTarget,
  attachToEntry,
  type FileInfo,
  FileNotFoundError,
  getFileInfo,
  getFileInfoByExactKey,
  getMessageFieldAttachmentPolicy,
  listAttachmentsPage,
  listEntryAttachments,
  measureContent,
  ORPHAN_MIN_AGE_SECONDS,
  openFileContent,
  purgeOrphanFiles,
  recordUploader,
  type StoredFile,
  storeFile,
} from "../storage/index.ts";
import {
  assertCaller,
  assertCanLinkFile,
  assertCanReachEntry,
  assertCanReadFile,
  assertCanReadTicket,
  callerSubject,
  type EntryFilter,
  uploaderOfCall,
} from "./access.ts";
import { invalidArgument, STREAM_FIELDS, toConnectError, UNARY_FIELDS } from "./errors.ts";
import { attachmentMessage, fileInfoMessage } from "./messages.ts";
import { decodePageToken, encodePageToken, pageSize } from "./paging.ts";
import { openUploadStream, uploadedBytes } from "./upload.ts";

/** The gateway serves signed links under this path: `/files/<key>?expires=…&disposition=…&signature=…`. */
export const DOWNLOAD_PATH_PREFIX = "/files/";
/** CreateDownloadLink's default and longest validity (the contract's 1 hour and 24 hours). */
export const DEFAULT_LINK_TTL_SECONDS = 3600;
export const MAX_LINK_TTL_SECONDS = 86_400;
/** The idempotency convention: keys of at most 128 characters, replayed for 24 hours. */
const MAX_IDEMPOTENCY_KEY_LENGTH = 128;
const IDEMPOTENCY_TTL_SECONDS = 86_400;
const MAX_FILES_PER_ATTACH = 100;

export interface AttachmentServiceDeps {
  orm: Orm;
  /** Signs and checks download links (current secret plus previous ones). */
  signer: DownloadLinkSigner;
  config: Pick<AttachmentConfig, "unaryMaxBytes">;
  /** Milliseconds since the epoch (link expiries); injectable for tests. */
  clock?: () => number;
  /** Where files served other than as recorded are reported (osTicket's double-decoded XML attachments). */
  logger?: Logger;
}

/** Thrown out of a transaction to roll back a retried stream upload whose first response is replayed. */
class Replay<T> {
  readonly response: T;
  constructor(response: T) {
    this.response = response;
  }
}

/**
 * osticket.attachment.v1.AttachmentService over osTicket's file tables. Every call runs in one
 * transaction of its own (uploads: a rejected file leaves no row; attaching: all files or none), except
 * the byte stream of a download, which reads chunk by chunk outside any transaction once metadata and
 * access are settled, so a slow client never pins a pooled connection.
 */
export class AttachmentServiceImpl implements ServiceImpl<typeof AttachmentService> {
  readonly #orm: Orm;
  readonly #signer: DownloadLinkSigner;
  readonly #config: Pick<AttachmentConfig, "unaryMaxBytes">;
  readonly #clock: () => number;
  readonly #logger: Logger | undefined;

  constructor(deps: AttachmentServiceDeps) {
    this.#orm = deps.orm;
    this.#signer = deps.signer;
    this.#config = deps.config;
    this.#clock = deps.clock ?? Date.now;
    this.#logger = deps.logger;
  }

  #em(): EntityManager {
    return this.#orm.em.fork();
  }

  // ---- uploads ------------------------------------------------------------------------------------------

  async uploadFile(req: UploadFileRequest, ctx: HandlerContext): Promise<UploadFileResponse> {
    try {
      assertCaller(ctx);
      checkIdempotencyKey(req.idempotencyKey);
      const name = requireName(req.name, "name");
      const legacySize = Number(req.legacySize);
      if (req.legacySize < 0n || !Number.isSafeInteger(legacySize))
        throw invalidArgument("legacy_size", "must not be negative");
      const limit = this.#config.unaryMaxBytes;
      if (req.data.byteLength > limit) {
        throw new ConnectError(
          `data: UploadFile takes files of at most ${limit} bytes; send larger files with UploadFileStream`,
          Code.ResourceExhausted,
        );
      }
      const store = async (tx: EntityManager) => {
        const policy = await uploadPolicy(tx);
        const stored = await storeFile(tx, {
          name,
          declaredType: req.type,
          source: req.data,
          maxBytes: policy.maxFileSize,
          allowedTypes: policy,
          ...(legacySize > 0 ? { recordedSize: legacySize } : {}),
          checkContent: !req.keepDeclaredType,
          signal: ctx.signal,
        });
        await recordUploader(tx, stored.id, stored.key, uploaderOfCall(ctx), ctx.signal);
        return uploadResponse(stored);
      };
      const key = req.idempotencyKey;
      if (key === "") return await this.#em().transactional(store);
      return await this.#em().transactional(async (tx) => {
        const { response } = await withIdempotency(
          tx,
          {
            scope: idempotencyScope("UploadFile", ctx),
            key,
            requestHash: requestHash(UploadFileRequestSchema, req),
            ttl: IDEMPOTENCY_TTL_SECONDS,
          },
          store,
          protoCodec(UploadFileResponseSchema),
        );
        return response;
      });
    } catch (error) {
      throw toConnectError(error, UNARY_FIELDS);
    }
  }

  async uploadFileStream(
    requests: AsyncIterable<UploadFileStreamRequest>,
    ctx: HandlerContext,
  ): Promise<UploadFileStreamResponse> {
    const messages = requests[Symbol.asyncIterator]();
    try {
      assertCaller(ctx);
      const { metadata, idempotencyKey: key } = await openUploadStream(messages);
      checkIdempotencyKey(key);
      const name = requireName(metadata.name, "metadata.name");
      const declaredSize = Number(metadata.size);
      if (metadata.size < 0n || !Number.isSafeInteger(declaredSize))
        throw invalidArgument("metadata.size", "must not be negative");
      const content = createHash("sha256");
      try {
        return await this.#em().transactional(async (tx) => {
          const policy = await uploadPolicy(tx);
          // Refused before a single byte is stored.
          if (declaredSize > policy.maxFileSize) {
            throw new ConnectError(
              `metadata.size: the file is larger than the limit of ${policy.maxFileSize} bytes`,
              Code.ResourceExhausted,
            );
          }
          const stored = await storeFile(tx, {
            name,
            declaredType: metadata.type,
            source: uploadedBytes(messages, declaredSize, content),
            maxBytes: policy.maxFileSize,
            allowedTypes: policy,
            signal: ctx.signal,
          });
          await recordUploader(tx, stored.id, stored.key, uploaderOfCall(ctx), ctx.signal);
          const response = streamUploadResponse(stored);
          if (key === "") return response;
          // The request is known only now: its metadata and the hash of the bytes that arrived.
          const hash = createHash("sha256")
            .update(JSON.stringify([metadata.name, metadata.type, metadata.size.toString()]))
            .update(content.digest())
            .digest("hex");
          const result = await withIdempotency(
            tx,
            {
              scope: idempotencyScope("UploadFileStream", ctx),
              key,
              requestHash: hash,
              ttl: IDEMPOTENCY_TTL_SECONDS,
            },
            async () => response,
            protoCodec(UploadFileStreamResponseSchema),
          );
          // A retry: what it stored goes, the first call's answer stands.
          if (result.replayed) throw new Replay(result.response);
          return result.response;
        });
      } catch (error) {
        if (error instanceof Replay && isResponse(error.response)) return error.response;
        throw error;
      }
    } catch (error) {
      throw toConnectError(error, STREAM_FIELDS);
    } finally {
      // A refused upload stops reading what the client still sends.
      await messages.return?.();
    }
  }

  // ---- downloads ----------------------------------------------------------------------------------------

  async *downloadFile(req: DownloadFileRequest, ctx: HandlerContext): AsyncGenerator<DownloadFileResponse> {
    try {
      assertCaller(ctx);
      // Its shape only: whether it fits the file is told after access is settled and the metadata sent.
      const requested = req.range ? requestedRange(req.range) : undefined;
      let info: FileInfo;
      switch (req.file.case) {
        case "fileId": {
          const fileId = requireId(req.file.value, "file_id");
          info = await this.#em().transactional(async (tx) => {
            await assertCanReadFile(ctx, tx, fileId);
            return getFileInfo(tx, fileId);
          });
          break;
        }
        case "link": {
          const link = req.file.value;
          const expiresAt = Number(link.expires);
          this.#signer.verifyLink({
            key: link.key,
            expiresAt: Number.isSafeInteger(expiresAt) ? expiresAt : 0,
            disposition: link.asAttachment ? "attachment" : "inline",
            signature: link.signature,
          });
          info = await getFileInfoByExactKey(this.#em(), link.key);
          break;
        }
        default:
          throw invalidArgument("file", "give file_id or link");
      }
      // Outside any transaction: one short query per chunk, the next fetched while this one is sent.
      const em = this.#em();
      const { length, doubleDecoded } = await measureContent(em, info, { signal: ctx.signal });
      if (doubleDecoded) {
        // osTicket itself announces `size` as Content-Length and then sends fewer bytes; ostmesh serves
        // what is stored, with its real length.
        this.#logger?.warn(
          { fileId: info.id, size: info.size, storedBytes: length },
          `file ${info.id} was stored by osTicket's legacy XML API decoded twice: serving its ${length} stored bytes instead of the recorded size of ${info.size}`,
        );
      }
      const content = openFileContent(em, info, length);
      const range = requested ? resolveRange(requested, length) : undefined;
      yield create(DownloadFileResponseSchema, {
        part: { case: "info", value: fileInfoMessage(info) },
        contentLength: BigInt(length),
        ...(range ? { range: { offset: BigInt(range.start), length: BigInt(range.end - range.start) } } : {}),
      });
      if (requested && !range) {
        throw new ConnectError(
          `range: no byte of it lies within the file's ${length} bytes`,
          Code.OutOfRange,
        );
      }
      const bytes = range
        ? content.range(range.start, range.end, { signal: ctx.signal })
        : content.chunks({ signal: ctx.signal });
      for await (const chunk of bytes) {
        yield create(DownloadFileResponseSchema, { part: { case: "chunk", value: chunk } });
      }
    } catch (error) {
      throw toConnectError(error);
    }
  }

  async getFileInfo(req: GetFileInfoRequest, ctx: HandlerContext): Promise<GetFileInfoResponse> {
    try {
      assertCaller(ctx);
      const fileId = requireId(req.fileId, "file_id");
      const info = await this.#em().transactional(async (tx) => {
        await assertCanReadFile(ctx, tx, fileId);
        return getFileInfo(tx, fileId);
      });
      return create(GetFileInfoResponseSchema, { file: fileInfoMessage(info) });
    } catch (error) {
      throw toConnectError(error);
    }
  }

  async createDownloadLink(
    req: CreateDownloadLinkRequest,
    ctx: HandlerContext,
  ): Promise<CreateDownloadLinkResponse> {
    try {
      assertCaller(ctx);
      const fileId = requireId(req.fileId, "file_id");
      const ttlSeconds = linkTtl(req.ttl);
      const info = await this.#em().transactional(async (tx) => {
        await assertCanReadFile(ctx, tx, fileId);
        return getFileInfo(tx, fileId);
      });
      // A link to bytes this service cannot serve would only fail later.
      openFileContent(this.#em(), info);
      const disposition: Disposition = req.asAttachment ? "attachment" : "inline";
      const { expiresAt, signature } = this.#signer.signLink({ key: info.key, ttlSeconds, disposition });
      const query = new URLSearchParams({ expires: String(expiresAt), disposition, signature });
      return create(CreateDownloadLinkResponseSchema, {
        urlPath: `${DOWNLOAD_PATH_PREFIX}${encodeURIComponent(info.key)}?${query.toString()}`,
        key: info.key,
        expiresAt: timestampFromMs(expiresAt * 1000),
        signature,
      });
    } catch (error) {
      throw toConnectError(error);
    }
  }

  // ---- listings and links to thread entries ------------------------------------------------------------

  async listAttachments(req: ListAttachmentsRequest, ctx: HandlerContext): Promise<ListAttachmentsResponse> {
    try {
      assertCaller(ctx);
      const limit = pageSize(req.pageSize);
      let target: AttachmentTarget;
      let listing: string;
      if (req.target.case === "ticketId") {
        const ticketId = requireId(req.target.value, "ticket_id");
        target = { ticketId };
        listing = `ticket:${ticketId}`;
      } else if (req.target.case === "threadEntryId") {
        const entryId = requireId(req.target.value, "thread_entry_id");
        target = { entryId };
        listing = `entry:${entryId}`;
      } else {
        throw invalidArgument("target", "give ticket_id or thread_entry_id");
      }
      const after = decodePageToken(listing, req.pageToken);
      const page = await this.#em().transactional(async (tx) => {
        const filter: EntryFilter =
          "ticketId" in target
            ? await assertCanReadTicket(ctx, tx, target.ticketId)
            : await assertCanReachEntry(ctx, tx, target.entryId);
        return listAttachmentsPage(tx, target, { limit, ...filter, ...(after ? { after } : {}) });
      });
      const last = page.attachments.at(-1);
      return create(ListAttachmentsResponseSchema, {
        attachments: page.attachments.map(attachmentMessage),
        nextPageToken:
          page.hasMore && last
            ? encodePageToken(listing, { entryId: last.entryId, attachmentId: last.id })
            : "",
      });
    } catch (error) {
      throw toConnectError(error);
    }
  }

  async attachFiles(req: AttachFilesRequest, ctx: HandlerContext): Promise<AttachFilesResponse> {
    try {
      assertCaller(ctx);
      checkIdempotencyKey(req.idempotencyKey);
      const entryId = requireId(req.threadEntryId, "thread_entry_id");
      if (req.files.length === 0) throw invalidArgument("files", "name at least one file");
      if (req.files.length > MAX_FILES_PER_ATTACH)
        throw invalidArgument("files", `at most ${MAX_FILES_PER_ATTACH} files per call`);
      const specs = req.files.map((spec, i) => ({
        fileId: requireId(spec.fileId, `files[${i}].file_id`),
        name: spec.name,
        inline: spec.inline,
        field: `files[${i}].file_id`,
      }));
      const link = async (tx: EntityManager) => {
        await assertCanReachEntry(ctx, tx, entryId);
        // Every file is checked before any is linked: a refused call writes nothing.
        for (const spec of specs) await assertCanLinkFile(ctx, tx, spec.fileId, spec.field);
        for (const spec of specs) {
          try {
            await attachToEntry(tx, {
              entryId,
              fileId: spec.fileId,
              inline: spec.inline,
              ...(spec.name !== "" ? { name: spec.name } : {}),
            });
          } catch (error) {
            if (error instanceof FileNotFoundError)
              throw new ConnectError(`${spec.field}: file ${spec.fileId} not found`, Code.NotFound);
            throw error;
          }
        }
        // Read back once all are linked: a file named twice shows its final name and flag both times.
        const byFile = new Map((await listEntryAttachments(tx, entryId)).map((a) => [a.fileId, a]));
        return create(AttachFilesResponseSchema, {
          attachments: specs.map((spec) => {
            const attachment = byFile.get(spec.fileId);
            if (!attachment) throw new Error(`file ${spec.fileId} vanished from entry ${entryId}`);
            return attachmentMessage(attachment);
          }),
        });
      };
      return await this.#idempotent(
        ctx,
        "AttachFiles",
        AttachFilesRequestSchema,
        req,
        AttachFilesResponseSchema,
        link,
      );
    } catch (error) {
      throw toConnectError(error);
    }
  }

  async purgeOrphanFiles(
    req: PurgeOrphanFilesRequest,
    ctx: HandlerContext,
  ): Promise<PurgeOrphanFilesResponse> {
    try {
      assertCaller(ctx);
      checkIdempotencyKey(req.idempotencyKey);
      let minAgeSeconds = ORPHAN_MIN_AGE_SECONDS;
      if (req.minAge) {
        const seconds = durationSeconds(req.minAge);
        if (seconds === undefined || seconds < 0) throw invalidArgument("min_age", "must not be negative");
        minAgeSeconds = Math.floor(seconds);
      }
      return await this.#idempotent(
        ctx,
        "PurgeOrphanFiles",
        PurgeOrphanFilesRequestSchema,
        req,
        PurgeOrphanFilesResponseSchema,
        async (tx) =>
          create(PurgeOrphanFilesResponseSchema, {
            filesDeleted: await purgeOrphanFiles(tx, { minAgeSeconds, signal: ctx.signal }),
          }),
      );
    } catch (error) {
      throw toConnectError(error);
    }
  }

  /** One transaction; with an idempotency key, the first response of the same request is replayed. */
  async #idempotent<Req extends DescMessage, Res extends DescMessage>(
    ctx: HandlerContext,
    method: string,
    reqSchema: Req,
    req: MessageShape<Req> & { idempotencyKey: string },
    resSchema: Res,
    run: (tx: EntityManager) => Promise<MessageShape<Res>>,
  ): Promise<MessageShape<Res>> {
    const key = req.idempotencyKey;
    if (key === "") return this.#em().transactional(run);
    return this.#em().transactional(async (tx) => {
      const { response } = await withIdempotency(
        tx,
        {
          scope: idempotencyScope(method, ctx),
          key,
          requestHash: requestHash(reqSchema, req),
          ttl: IDEMPOTENCY_TTL_SECONDS,
        },
        run,
        protoCodec(resSchema),
      );
      return response;
    });
  }
}

// ---- helpers ------------------------------------------------------------------------------------------

/** The ticket form's message field: the limit and types osTicket applies to files sent with tickets. */
async function uploadPolicy(tx: EntityManager) {
  const policy = await getMessageFieldAttachmentPolicy(tx);
  if (!policy.enabled) {
    throw new ConnectError(
      "attachments are disabled in the help desk's settings (ticket form message field)",
      Code.FailedPrecondition,
    );
  }
  return policy;
}

function uploadResponse(stored: StoredFile): UploadFileResponse {
  return create(UploadFileResponseSchema, {
    file: fileInfoMessage(stored),
    deduplicated: stored.deduplicated,
  });
}

function streamUploadResponse(stored: StoredFile): UploadFileStreamResponse {
  return create(UploadFileStreamResponseSchema, {
    file: fileInfoMessage(stored),
    deduplicated: stored.deduplicated,
  });
}

function isResponse(value: unknown): value is UploadFileStreamResponse {
  return typeof value === "object" && value !== null && "deduplicated" in value;
}

function checkIdempotencyKey(key: string): void {
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    throw invalidArgument("idempotency_key", `must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
}

function idempotencyScope(method: string, ctx: HandlerContext): string {
  return `attachment.${method}:${callerSubject(ctx)}`.slice(0, 191);
}

/** SHA-256 of the request without its idempotency key: the same request retried hashes the same. */
function requestHash<S extends DescMessage>(
  schema: S,
  req: MessageShape<S> & { idempotencyKey: string },
): string {
  const unkeyed = create(schema, req);
  Reflect.set(unkeyed, "idempotencyKey", "");
  return createHash("sha256").update(toBinary(schema, unkeyed)).digest("hex");
}

function protoCodec<S extends DescMessage>(schema: S): IdempotencyCodec<MessageShape<S>> {
  return {
    encode: (value) => toBinary(schema, value),
    decode: (bytes) => fromBinary(schema, bytes),
  };
}

function requireId(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw invalidArgument(field, "must be a positive id");
  return value;
}

/** A download's range as asked: bytes from `offset` (`length` 0 = to the end), or the last `suffix` bytes. */
type RequestedRange = { offset: number; length: number } | { suffix: number };

function requestedRange(range: ByteRange): RequestedRange {
  for (const [field, value] of [
    ["offset", range.offset],
    ["length", range.length],
    ["suffix_length", range.suffixLength],
  ] as const) {
    if (value < 0n) throw invalidArgument(`range.${field}`, "must not be negative");
  }
  // Beyond 2^53 bytes every value means "past any file": capped, they keep their meaning.
  const capped = (value: bigint) => Number(value > MAX_SAFE ? MAX_SAFE : value);
  if (range.suffixLength > 0n) {
    if (range.offset !== 0n || range.length !== 0n)
      throw invalidArgument("range.suffix_length", "cannot be combined with offset or length");
    return { suffix: capped(range.suffixLength) };
  }
  return { offset: capped(range.offset), length: capped(range.length) };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Bytes `[start, end)` of content `length` bytes long; undefined when no byte of the range is in it (HTTP's 416). */
function resolveRange(range: RequestedRange, length: number): { start: number; end: number } | undefined {
  if ("suffix" in range)
    return length > 0 ? { start: Math.max(0, length - range.suffix), end: length } : undefined;
  if (range.offset >= length) return undefined;
  return {
    start: range.offset,
    end: range.length === 0 ? length : Math.min(length, range.offset + range.length),
  };
}

function requireName(name: string, field: string): string {
  if (name.trim() === "") throw invalidArgument(field, "is required");
  return name;
}

function durationSeconds(duration: Duration): number | undefined {
  const seconds = Number(duration.seconds) + duration.nanos / 1e9;
  return Number.isFinite(seconds) ? seconds : undefined;
}

function linkTtl(ttl: Duration | undefined): number {
  if (!ttl) return DEFAULT_LINK_TTL_SECONDS;
  const seconds = durationSeconds(ttl);
  if (seconds === undefined || seconds < 1 || seconds > MAX_LINK_TTL_SECONDS) {
    throw invalidArgument("ttl", `must be between 1 second and ${MAX_LINK_TTL_SECONDS / 3600} hours`);
  }
  return Math.floor(seconds);
}
