import { finished } from "node:stream/promises";
import { type MimeNode, Splitter, type SplitterChunk } from "@zone-eu/mailsplit";

/** A single-part MIME entity of a message, outside any attached message, as it was encoded in the mail. */
export interface MimeLeaf {
  /** IMAP-style part number ("1", "2.1"), as mailparser numbers its attachments; "" for a single-part mail. */
  readonly partId: string;
  /** Lower-cased `type/subtype`. */
  readonly type: string;
  /** The Content-Type value as written, without its parameters ('' when there is none). */
  readonly declaredType: string;
  /** Lower-cased Content-Disposition value, undefined without one. */
  readonly disposition: string | undefined;
  /** The disposition's filename, else the type's name parameter. */
  readonly filename: string | undefined;
  readonly charset: string | undefined;
  readonly transferEncoding: string | undefined;
  /** The body with its Content-Transfer-Encoding undone (no charset conversion). */
  readonly data: Buffer;
  /** Inside a message/rfc822 part given inline, which the splitter opens (mailparser keeps no file of it). */
  readonly inMessage: boolean;
}

/**
 * Every leaf part of a message in the order of the MIME tree, read with the splitter mailparser itself
 * uses, so part numbers line up with those of mailparser's attachments. An attached message is one leaf
 * (the caller decodes it on its own), unless it is marked inline and not encoded: the splitter then opens
 * it, as mailparser does, and its parts come with `inMessage` set.
 */
export async function mimeLeaves(bytes: Buffer): Promise<MimeLeaf[]> {
  const splitter = new Splitter();
  const leaves: Promise<MimeLeaf>[] = [];
  let current: { node: MimeNode; chunks: Buffer[] } | undefined;
  const finish = () => {
    if (!current) return;
    const { node, chunks } = current;
    current = undefined;
    const leaf = {
      partId: partId(node),
      type: typeof node.contentType === "string" ? node.contentType.toLowerCase() : "text/plain",
      declaredType: node.headers ? (node.headers.getFirst("Content-Type").split(";")[0] ?? "").trim() : "",
      disposition: node.disposition || undefined,
      filename: node.filename || undefined,
      charset: node.charset || undefined,
      transferEncoding: node.encoding || undefined,
      inMessage: insideMessage(node),
    };
    leaves.push(transferDecoded(node, Buffer.concat(chunks)).then((data) => ({ ...leaf, data })));
  };
  splitter.on("data", (chunk: SplitterChunk) => {
    if (chunk.type === "node") {
      finish();
      if (!chunk.multipart && !chunk.messageNode) current = { node: chunk, chunks: [] };
    } else if (chunk.type === "body" && current) {
      current.chunks.push(chunk.value);
    } else if (chunk.type === "data") {
      finish();
    }
  });
  splitter.end(bytes);
  await finished(splitter);
  finish();
  return Promise.all(leaves);
}

function insideMessage(node: MimeNode): boolean {
  for (let parent = node.parentNode; parent; parent = parent.parentNode) {
    if (parent.contentType === "message/rfc822") return true;
  }
  return false;
}

function partId(node: MimeNode): string {
  if (!node.partNr) return "";
  return node.partNr.filter((nr) => typeof nr === "number").join(".");
}

function transferDecoded(node: MimeNode, body: Buffer): Promise<Buffer> {
  const decoder = node.getDecoder();
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    decoder.on("data", (chunk: Buffer | string) => out.push(Buffer.from(chunk)));
    decoder.on("end", () => resolve(Buffer.concat(out)));
    decoder.on("error", reject);
    decoder.end(body);
  });
}
