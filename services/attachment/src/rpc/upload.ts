import { createHash, type Hash } from "node:crypto";
import type {
  UploadFileStreamRequest,
  UploadMetadata,
} from "@ostmesh/proto/gen/osticket/attachment/v1/attachment_service_pb.js";
import { invalidArgument } from "./errors.ts";

/** The opening message of an upload stream: its metadata and the idempotency key. */
export interface StreamOpening {
  metadata: UploadMetadata;
  idempotencyKey: string;
}

/** Reads the first message of an upload stream, which must carry the metadata. */
export async function openUploadStream(
  messages: AsyncIterator<UploadFileStreamRequest>,
): Promise<StreamOpening> {
  const first = await messages.next();
  if (first.done)
    throw invalidArgument("metadata", "the stream is empty; its first message must carry metadata");
  const message = first.value;
  if (message.part.case !== "metadata")
    throw invalidArgument("metadata", "the first message of the stream must carry metadata");
  return { metadata: message.part.value, idempotencyKey: message.idempotencyKey };
}

/**
 * The file's bytes: the chunks of the messages after the first, as they arrive, checked against the
 * declared size — more bytes than declared fail as soon as they arrive, fewer when the stream ends (both
 * INVALID_ARGUMENT, and the store that reads this rolls back). Every byte also goes into `hash`.
 */
export async function* uploadedBytes(
  messages: AsyncIterator<UploadFileStreamRequest>,
  declaredSize: number,
  hash: Hash = createHash("sha256"),
): AsyncGenerator<Uint8Array, void, undefined> {
  let received = 0;
  for (;;) {
    const next = await messages.next();
    if (next.done) break;
    const part = next.value.part;
    if (part.case !== "chunk") {
      throw invalidArgument(
        part.case === "metadata" ? "metadata" : "chunk",
        part.case === "metadata"
          ? "metadata may only be sent in the first message"
          : "every message after the first must carry a chunk",
      );
    }
    received += part.value.byteLength;
    if (received > declaredSize) {
      throw invalidArgument(
        "chunk",
        `more bytes arrived than the declared size of ${declaredSize} (metadata.size)`,
      );
    }
    hash.update(part.value);
    yield part.value;
  }
  if (received !== declaredSize) {
    throw invalidArgument("metadata.size", `${declaredSize} bytes were declared but ${received} arrived`);
  }
}
