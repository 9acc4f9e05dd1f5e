import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { checkDockerfile, dockerIgnored, type ImageFacts, parseDockerfile } from "./validation/dockerfile.ts";
import { isOstmeshWorkload } from "./validation/hardening.ts";
import { importClosure, loadWorkspaces } from "./validation/imports.ts";
import { type Workload, workloads } from "./validation/objects.ts";
import { renderKustomization } from "./validation/render.ts";

const ROOT = resolve(import.meta.dirname, "..");
const PRELOAD = "@ostmesh/kit/telemetry/preload.ts";
const IMAGES = [
  { name: "gateway", dir: "gateway" },
  { name: "ticket", dir: "services/ticket" },
  { name: "identity", dir: "services/identity" },
  { name: "attachment", dir: "services/attachment" },
  { name: "notification", dir: "services/notification" },
] as const;

/** The Node image matching the Node version the repository pins (devDependency `node`). */
function pinnedBaseImage(): string {
  const manifest: unknown = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const version =
    typeof manifest === "object" && manifest !== null && "devDependencies" in manifest
      ? JSON.stringify(manifest.devDependencies).match(/"node":"(\d+)\.(\d+)\.\d+"/)
      : null;
  if (version === null) throw new Error("package.json pins no node version");
  return `node:${version[1]}.${version[2]}-bookworm-slim`;
}

const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
let deployments: Workload[] = [];

beforeAll(async () => {
  deployments = workloads(await renderKustomization(join(import.meta.dirname, "base"))).filter(
    isOstmeshWorkload,
  );
});

describe.each(IMAGES)("image ghcr.io/ostmesh/$name ($dir/Dockerfile)", ({ name, dir }) => {
  const entry = `${dir}/src/main.ts`;
  const parse = () => parseDockerfile(readFileSync(join(ROOT, dir, "Dockerfile"), "utf8"));
  const check = () =>
    checkDockerfile(parse(), {
      image: `ghcr.io/ostmesh/${name}`,
      entry,
      baseImage: pinnedBaseImage(),
      preload: PRELOAD,
    });

  it("is a multi-stage build on the pinned node slim image that runs as non-root with an exec-form CMD", () => {
    expect(pinnedBaseImage()).toMatch(/^node:24\.\d+-bookworm-slim$/);
    expect(check().problems).toEqual([]);
    expect(existsSync(join(ROOT, entry)), `${entry} exists`).toBe(true);
  });

  it("exposes exactly the ports its Deployment declares, and the Deployment runs this image", () => {
    const deployment = deployments.find((w) => w.name === name);
    const container = deployment?.pod.containers[0];
    expect(container?.image).toMatch(new RegExp(`^ghcr\\.io/ostmesh/${name}:`));
    const declared = (container?.ports ?? []).map((p) => p.containerPort).sort();
    expect(check().facts.exposedPorts.sort()).toEqual(declared);
  });

  it("installs and copies every workspace and package the process loads, none of it dockerignored", () => {
    const facts: ImageFacts = check().facts;
    const workspaces = loadWorkspaces(ROOT);
    const closure = importClosure(ROOT, [entry, PRELOAD], workspaces);
    expect(closure.problems).toEqual([]);
    expect(closure.files.has(entry)).toBe(true);
    expect(closure.workspaces.has("@ostmesh/kit")).toBe(true);
    for (const workspace of closure.workspaces) {
      expect(facts.workspaces, `npm ci -w ${workspace}`).toContain(workspace);
      const dirOf = workspaces.get(workspace)?.dir ?? "";
      expect(facts.copiedPaths, `COPY ${dirOf}/package.json`).toContain(`${dirOf}/package.json`);
      expect(facts.copiedPaths, `COPY ${dirOf}/src`).toContain(`${dirOf}/src`);
    }
    for (const workspace of facts.workspaces) expect(workspaces.has(workspace), workspace).toBe(true);
    for (const path of facts.copiedPaths) {
      expect(existsSync(join(ROOT, path)), `${path} exists`).toBe(true);
      expect(dockerIgnored(ignore, path), `${path} is in the build context`).toBe(false);
    }
    for (const file of closure.files) {
      expect(dockerIgnored(ignore, file), `${file} is in the build context`).toBe(false);
      expect(
        facts.copiedPaths.some((path) => file.startsWith(`${path}/`)),
        `${file} is copied`,
      ).toBe(true);
    }
  });
});

describe(".dockerignore", () => {
  it("keeps tests, dependencies, git and manifests out of every build context", () => {
    for (const path of [
      ".git/HEAD",
      "node_modules/yaml/package.json",
      "packages/kit/node_modules/x",
      "packages/kit/src/log/log.test.ts",
      "packages/db/src/testing/scratch.ts",
      "k8s/base/ticket.yaml",
      ".env",
    ]) {
      expect(dockerIgnored(ignore, path), path).toBe(true);
    }
    for (const path of [
      "package.json",
      "package-lock.json",
      "packages/kit/src/index.ts",
      "services/ticket/src/main.ts",
    ]) {
      expect(dockerIgnored(ignore, path), path).toBe(false);
    }
  });
});
