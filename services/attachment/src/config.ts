import { randomBytes } from "node:crypto";
import { ConfigError, type EnvSource, env, loadConfig } from "@ostmesh/kit";
import { MIN_SECRET_BYTES } from "./links/index.ts";

/** What the attachment service reads from its environment (besides the mesh-wide settings). */
export interface AttachmentConfig {
  /** ATTACHMENT_LINK_SECRET: HMAC secret of signed download links (≥ 32 bytes). */
  readonly linkSecret: string;
  /** ATTACHMENT_LINK_PREVIOUS_SECRETS: older secrets still accepted while links signed with them live. */
  readonly previousLinkSecrets: readonly string[];
  /**
   * True when ATTACHMENT_LINK_SECRET was unset and a random secret was made for this process (development:
   * links stop working when the process restarts, and only this process can check them).
   */
  readonly linkSecretGenerated: boolean;
  /**
   * ATTACHMENT_UNARY_MAX_BYTES: the largest file UploadFile accepts in one message (larger files are
   * streamed with UploadFileStream); osTicket's max_file_size applies on top. At most the RPC message limit.
   */
  readonly unaryMaxBytes: number;
  /** ATTACHMENT_DB_POOL_MAX: connections of the service's pool (default 10). */
  readonly dbPoolMax: number;
}

export const DEFAULT_UNARY_MAX_BYTES = 8 * 1024 * 1024;

/** Room for the other fields of an UploadFileRequest and the envelope within the RPC message limit. */
const UNARY_ENVELOPE_BYTES = 64 * 1024;

/**
 * Reads the attachment service's settings; throws one ConfigError naming every bad variable. Secrets are
 * checked here rather than by a field parser, so no problem text ever echoes a secret's value.
 */
export function loadAttachmentConfig(
  source: EnvSource = process.env,
  limits: { maxMessageBytes: number } = { maxMessageBytes: 16 * 1024 * 1024 },
): AttachmentConfig {
  const ceiling = Math.max(1, limits.maxMessageBytes - UNARY_ENVELOPE_BYTES);
  const problems: { variable: string; problem: string }[] = [];
  const secret = source.ATTACHMENT_LINK_SECRET?.trim() || undefined;
  if (secret !== undefined && Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    problems.push({
      variable: "ATTACHMENT_LINK_SECRET",
      problem: `must be at least ${MIN_SECRET_BYTES} bytes`,
    });
  }
  const previous = (source.ATTACHMENT_LINK_PREVIOUS_SECRETS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  previous.forEach((s, i) => {
    if (Buffer.byteLength(s) < MIN_SECRET_BYTES) {
      problems.push({
        variable: "ATTACHMENT_LINK_PREVIOUS_SECRETS",
        problem: `secret ${i + 1} must be at least ${MIN_SECRET_BYTES} bytes`,
      });
    }
  });
  let unaryMaxBytes = 0;
  let dbPoolMax = 0;
  try {
    ({ unaryMaxBytes, dbPoolMax } = loadConfig(
      (read) => ({
        unaryMaxBytes: read(
          env
            .bytes("ATTACHMENT_UNARY_MAX_BYTES", { min: 1, max: ceiling })
            .default(Math.min(DEFAULT_UNARY_MAX_BYTES, ceiling)),
        ),
        dbPoolMax: read(env.int("ATTACHMENT_DB_POOL_MAX", { min: 1, max: 1000 }).default(10)),
      }),
      source,
    ));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    linkSecret: secret ?? randomBytes(48).toString("base64url"),
    previousLinkSecrets: previous,
    linkSecretGenerated: secret === undefined,
    unaryMaxBytes,
    dbPoolMax,
  };
}
