import { randomInt } from "node:crypto";
import { type BodyFormat, htmlChars } from "@ostmesh/kit/osticket/html/format.ts";
import { mailHtmlToText } from "@ostmesh/kit/osticket/html/html2text.ts";
import type { MailAttachment, ParsedEmail } from "./parse.ts";

/** The message body osTicket takes from a mail, before cleaning (Mail_Parse::getBody). */
export interface MailBody {
  readonly text: string;
  readonly format: BodyFormat;
  /** Content-IDs of inline images referenced only from the quoted part that was cut off. */
  readonly strippedCids: ReadonlySet<string>;
  /** `data:` images taken out of an html body (referenced as `cid:` now); never dropped with the quote. */
  readonly embedded: readonly MailAttachment[];
}

export interface BodyOptions {
  /** Config `enable_richtext`: the html part wins over the plain-text part. */
  readonly richText: boolean;
  /** Config `reply_separator` when `strip_quoted_reply` is on, else null. */
  readonly replySeparator: string | null;
}

/**
 * With rich text the html part (only what is inside `<body>` survives cleaning), else the plain-text part;
 * without rich text the plain-text part, else the html part turned into text (mailHtmlToText). Then everything from the
 * reply separator on is cut off, unless nothing but blanks would be left.
 */
export function mailBody(mail: ParsedEmail, options: BodyOptions): MailBody {
  let body: { text: string; format: BodyFormat } | undefined;
  let embedded: MailAttachment[] = [];
  if (options.richText) {
    if (mail.html) {
      const extracted = extractEmbeddedImages(mail.html);
      embedded = extracted.images;
      body = { text: extracted.html, format: "html" };
    } else if (mail.text) body = { text: mail.text, format: "text" };
  } else if (mail.text) {
    body = { text: mail.text, format: "text" };
  } else if (mail.html) {
    body = { text: mailHtmlToText(mail.html), format: "text" };
  }
  if (!body) return { text: "", format: "text", strippedCids: new Set(), embedded };

  const tag = options.replySeparator;
  if (!tag || !body.text.includes(tag)) return { ...body, strippedCids: new Set(), embedded };
  const kept = body.text.slice(0, body.text.indexOf(tag));
  if (!kept.trim()) return { ...body, strippedCids: new Set(), embedded };
  const before = referencedCids(body.text);
  const after = referencedCids(kept);
  return {
    text: kept,
    format: body.format,
    strippedCids: new Set([...before].filter((c) => !after.has(c))),
    embedded,
  };
}

/** Misc::randCode: random letters and digits. */
export function randCode(length: number): string {
  const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return Array.from({ length }, () => chars.charAt(randomInt(chars.length))).join("");
}

/**
 * HtmlThreadEntryBody::extractEmbeddedHtmlImages: every `src="data:..."` becomes a file named
 * `image<4 random>.<subtype>` referenced as `cid:img<12 random>`. The data URL is read as osTicket's
 * parseRfc2397 reads it: only a first parameter `base64` decodes the data.
 */
export function extractEmbeddedImages(html: string): { html: string; images: MailAttachment[] } {
  const images: MailAttachment[] = [];
  const out = html.replace(/src="(data:[^"]+)"/g, (_, url: string) => {
    const rest = url.slice(5);
    const comma = rest.indexOf(",");
    const meta = comma === -1 ? rest : rest.slice(0, comma);
    const contents = comma === -1 ? "" : rest.slice(comma + 1);
    const semi = meta.indexOf(";");
    const type = (semi === -1 ? meta : meta.slice(0, semi)) || "text/plain";
    const extra = semi === -1 ? "" : meta.slice(semi + 1);
    const base64 = extra.split("=")[0] === "base64";
    const data = Buffer.from(contents, base64 ? "base64" : "utf8");
    const cid = `img${randCode(12)}`;
    images.push({
      name: `image${randCode(4)}.${type.split("/")[1] ?? ""}`,
      type: type.toLowerCase(),
      data,
      cid,
    });
    return `src="cid:${cid}"`;
  });
  return { html: out, images };
}

function referencedCids(html: string): Set<string> {
  return new Set([...html.matchAll(/src=("|'|\b)cid:(\S+)\1/g)].flatMap((m) => (m[2] ? [m[2]] : [])));
}

/**
 * Thread::postEmail's banner for a sender it cannot place (neither owner, collaborator nor known user
 * of the ticket): `Received From: Name <address>` above the message.
 */
export function withReceivedFromBanner(body: MailBody, name: string, email: string): MailBody {
  const header = `Received From: ${name} <${email}>\n\n`;
  if (body.format === "html") {
    const html = htmlChars(header).replace(/\r?\n/g, "<br />\n");
    return { ...body, text: `<div>${html}<br/><br/></div>${body.text}` };
  }
  return { ...body, text: `${header}\n\n${body.text}` };
}
