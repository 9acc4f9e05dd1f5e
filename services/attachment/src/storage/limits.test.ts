import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  getMaxFileSize,
  getMessageFieldAttachmentPolicy,
  getUploadSettings,
  isFileTypeAllowed,
  policyFromFieldConfiguration,
  type UploadSettings,
} from "./limits.ts";
import { run } from "./sql.ts";
import { openScratchStore, type ScratchStore } from "./testing.ts";

const SETTINGS: UploadSettings = { maxFileSize: 1_048_576, allowAttachments: true, allowedFileTypes: "" };

describe("policyFromFieldConfiguration", () => {
  it("applies osTicket's defaults to an unconfigured field: enabled, max_file_size, every type", () => {
    expect(policyFromFieldConfiguration(null, SETTINGS)).toEqual({
      fieldId: null,
      enabled: true,
      maxFileSize: 1_048_576,
      maxFiles: null,
      strictMimeCheck: false,
      mimeTypes: [],
      extensions: null,
    });
  });

  it("reads the options an admin saved", () => {
    const policy = policyFromFieldConfiguration(
      {
        attachments: true,
        size: "262144",
        mimetypes: { image: "Images" },
        extensions: ".PDF, docx text/csv",
        max: "3",
      },
      SETTINGS,
    );
    expect(policy.maxFileSize).toBe(262_144);
    expect(policy.maxFiles).toBe(3);
    expect(policy.mimeTypes).toContain("image/png");
    expect(policy.mimeTypes).toContain("text/csv");
    expect(policy.extensions).toEqual(expect.arrayContaining([".png", ".jpg", ".pdf", ".docx"]));
    expect(isFileTypeAllowed(policy, "scan.PDF", "application/octet-stream")).toBe(true);
    expect(isFileTypeAllowed(policy, "photo.bin", "image/png")).toBe(true);
    expect(isFileTypeAllowed(policy, "data.bin", "text/csv")).toBe(true);
    expect(isFileTypeAllowed(policy, "tool.exe", "application/x-msdownload")).toBe(false);
    expect(isFileTypeAllowed(policy, "noext", "")).toBe(false);
  });

  it("disables attachments the PHP way and takes a saved choice object as the size", () => {
    for (const attachments of [false, 0, "0", ""]) {
      expect(policyFromFieldConfiguration({ attachments }, SETTINGS).enabled, String(attachments)).toBe(
        false,
      );
    }
    expect(policyFromFieldConfiguration({ size: { "524288": "512 kb" } }, SETTINGS).maxFileSize).toBe(
      524_288,
    );
    expect(policyFromFieldConfiguration({}, { ...SETTINGS, allowAttachments: false }).enabled).toBe(false);
  });

  it("reproduces osTicket's extension-list quirks", () => {
    // No extension option at all: every file passes, even with categories chosen.
    const unset = policyFromFieldConfiguration({ mimetypes: { image: "Images" } }, SETTINGS);
    expect(unset.extensions).toBeNull();
    expect(isFileTypeAllowed(unset, "tool.exe", "application/x-msdownload")).toBe(true);
    // An empty saved list with categories: only the categories' types and extensions pass.
    const empty = policyFromFieldConfiguration({ mimetypes: { image: "Images" }, extensions: "" }, SETTINGS);
    expect(isFileTypeAllowed(empty, "tool.exe", "application/x-msdownload")).toBe(false);
    expect(isFileTypeAllowed(empty, "pic.jpg", "")).toBe(true);
    // ".*" lifts the extra list.
    const star = policyFromFieldConfiguration({ extensions: ".pdf .*" }, SETTINGS);
    expect(isFileTypeAllowed(star, "tool.exe", "application/x-msdownload")).toBe(true);
    // The system-wide allowed_filetypes is the thread field's default list.
    const system = policyFromFieldConfiguration({}, { ...SETTINGS, allowedFileTypes: ".txt,.log" });
    expect(system.extensions).toEqual([".txt", ".log"]);
    expect(isFileTypeAllowed(system, "a.LOG", "")).toBe(true);
    expect(isFileTypeAllowed(system, "a.pdf", "application/pdf")).toBe(false);
  });
});

describe("limits from the database", () => {
  let store: ScratchStore;

  beforeAll(async () => {
    store = await openScratchStore("attlimits");
  });

  afterAll(async () => {
    await store?.close();
  });

  it("reads the fresh install: 1 MiB, attachments enabled on the message field, any type", async () => {
    expect(await getMaxFileSize(store.em())).toBe(1_048_576);
    expect(await getUploadSettings(store.em())).toEqual(SETTINGS);
    expect(await getMessageFieldAttachmentPolicy(store.em())).toEqual({
      fieldId: 21,
      enabled: true,
      maxFileSize: 1_048_576,
      maxFiles: null,
      strictMimeCheck: false,
      mimeTypes: [],
      extensions: null,
    });
  });

  it("follows changes to the config and the field", async () => {
    const em = store.em();
    await run(
      em,
      "UPDATE ost_config SET value = '2097152' WHERE namespace = 'core' AND `key` = 'max_file_size'",
    );
    await run(em, "INSERT INTO ost_config SET namespace = 'core', `key` = 'allow_attachments', value = '0'");
    expect(await getMaxFileSize(store.em())).toBe(2_097_152);
    const disabled = await getMessageFieldAttachmentPolicy(store.em());
    expect(disabled).toMatchObject({ enabled: false, maxFileSize: 2_097_152 });

    await run(em, "UPDATE ost_form_field SET configuration = ? WHERE id = 21", [
      JSON.stringify({
        attachments: true,
        size: "524288",
        mimetypes: { office: "Common Office Documents" },
        extensions: "",
      }),
    ]);
    const configured = await getMessageFieldAttachmentPolicy(store.em());
    expect(configured).toMatchObject({ fieldId: 21, enabled: true, maxFileSize: 524_288 });
    expect(isFileTypeAllowed(configured, "report.docx", "")).toBe(true);
    expect(isFileTypeAllowed(configured, "report.exe", "")).toBe(false);

    // A broken configuration is treated as unset, like osTicket's JSON parser returning nothing.
    await run(em, "UPDATE ost_form_field SET configuration = '{not json' WHERE id = 21");
    expect(await getMessageFieldAttachmentPolicy(store.em())).toMatchObject({
      enabled: false,
      extensions: null,
    });

    // Without max_file_size osTicket has no limit value, and every non-empty file is too large.
    await run(em, "DELETE FROM ost_config WHERE namespace = 'core' AND `key` = 'max_file_size'");
    expect(await getMaxFileSize(store.em())).toBe(0);
  });

  it("reports no attachments when the ticket form has no message field", async () => {
    await run(store.em(), "UPDATE ost_form_field SET name = 'renamed' WHERE id = 21");
    expect(await getMessageFieldAttachmentPolicy(store.em())).toMatchObject({
      fieldId: null,
      enabled: false,
    });
    await run(store.em(), "UPDATE ost_form_field SET name = 'message', type = 'text' WHERE id = 21");
    expect(await getMessageFieldAttachmentPolicy(store.em())).toMatchObject({ fieldId: 21, enabled: false });
  });
});
