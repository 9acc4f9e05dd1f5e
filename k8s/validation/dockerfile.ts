/** One instruction of a Dockerfile, continuation lines joined, comments removed. */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

export interface Dockerfile {
  comments: string[];
  stages: Stage[];
}

/** Parses the subset of Dockerfile syntax BuildKit accepts that these images use; throws on malformed input. */
export function parseDockerfile(text: string): Dockerfile {
  const comments: string[] = [];
  const stages: Stage[] = [];
  const lines = text.split(/\r?\n/);
  let pending = "";
  let startLine = 0;
  for (const [index, raw] of lines.entries()) {
    const trimmed = raw.trim();
    if (trimmed.startsWith("#")) {
      if (pending === "") comments.push(trimmed.replace(/^#\s?/, ""));
      continue;
    }
    // Blank lines never end an instruction: inside a continuation Docker skips them.
    if (trimmed === "") continue;
    if (pending === "") startLine = index + 1;
    if (trimmed.endsWith("\\")) {
      // Joined with single spaces: the checks read words, not the exact shell text.
      pending += `${trimmed.slice(0, -1).trimEnd()} `;
      continue;
    }
    const full = `${pending}${trimmed}`.trim();
    pending = "";
    addInstruction(full, startLine);
  }
  // A continuation at the end of the file ends the instruction, as in Docker.
  if (pending.trim() !== "") addInstruction(pending.trim(), startLine);
  if (stages.length === 0) throw new Error("no FROM instruction");
  return { comments, stages };

  function addInstruction(full: string, startLine: number): void {
    const match = /^([A-Za-z]+)(?:\s+([\s\S]*))?$/.exec(full);
    if (match === null) throw new Error(`line ${startLine}: not an instruction: ${full}`);
    const instruction = {
      keyword: (match[1] ?? "").toUpperCase(),
      args: (match[2] ?? "").trim(),
      line: startLine,
    };
    if (instruction.keyword === "FROM") {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (from === null) throw new Error(`line ${startLine}: malformed FROM: ${instruction.args}`);
      stages.push({ base: from[1] ?? "", name: from[2], instructions: [] });
      return;
    }
    const stage = stages.at(-1);
    if (stage === undefined) {
      if (instruction.keyword === "ARG") return;
      throw new Error(`line ${startLine}: ${instruction.keyword} before the first FROM`);
    }
    stage.instructions.push(instruction);
  }
}

/** The JSON array of an exec-form CMD/ENTRYPOINT, or undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return undefined;
  const out: string[] = [];
  for (const item of parsed) {
    if (typeof item !== "string") return undefined;
    out.push(item);
  }
  return out;
}

export interface ImageExpectations {
  /** Image name without tag: ghcr.io/ostmesh/ticket. */
  image: string;
  /** The process entry file, relative to the repository root. */
  entry: string;
  /** The base image every stage must use. */
  baseImage: string;
  /** The `--import` preload module. */
  preload: string;
}

export interface ImageFacts {
  workspaces: string[];
  copiedPaths: string[];
  exposedPorts: number[];
  command: string[] | undefined;
}

const BUILD_TOOLS = /\b(npm|npx|yarn|pnpm|corepack|apt-get\s+install|apt\s+install|curl|wget|gcc|make|git)\b/;

/**
 * The image rules: every stage on the pinned node slim image, multi-stage, `npm ci --omit=dev` of named
 * workspaces, a final stage with no build tools that runs as a non-root numeric user, and an exec-form
 * CMD that runs node with the telemetry preload on the entry file.
 */
export function checkDockerfile(
  file: Dockerfile,
  expected: ImageExpectations,
): { problems: string[]; facts: ImageFacts } {
  const problems: string[] = [];
  const facts: ImageFacts = { workspaces: [], copiedPaths: [], exposedPorts: [], command: undefined };
  if (
    !file.comments.some(
      (comment) => comment.includes(`${expected.image}:`) || comment.includes(`Image ${expected.image} `),
    )
  ) {
    problems.push(`no comment names the image ${expected.image}`);
  }
  if (file.stages.length < 2) problems.push("not a multi-stage build");
  const names = new Set<string>();
  for (const stage of file.stages) {
    if (stage.base !== expected.baseImage && !names.has(stage.base)) {
      problems.push(
        `stage ${stage.name ?? "(unnamed)"} builds FROM ${stage.base}, not ${expected.baseImage}`,
      );
    }
    if (stage.name !== undefined) names.add(stage.name);
    for (const instruction of stage.instructions) {
      if (instruction.keyword === "ADD" && /https?:\/\//.test(instruction.args)) {
        problems.push(`line ${instruction.line}: ADD downloads from the network`);
      }
      if (instruction.keyword === "COPY" && !instruction.args.includes("--from=")) {
        const parts = instruction.args.split(/\s+/).filter((part) => !part.startsWith("--"));
        facts.copiedPaths.push(...parts.slice(0, -1));
      }
    }
  }
  const final = file.stages.at(-1);
  const builders = file.stages.slice(0, -1);
  const installs = builders
    .flatMap((stage) => stage.instructions)
    .filter((i) => i.keyword === "RUN" && /\bnpm\s+(ci|install|i)\b/.test(i.args));
  if (installs.length !== 1)
    problems.push(`${installs.length} npm installs in the build stages (want one npm ci)`);
  for (const install of installs) {
    if (!/\bnpm\s+ci\b/.test(install.args))
      problems.push(`line ${install.line}: uses npm install, not npm ci`);
    if (!/--omit=dev\b/.test(install.args)) problems.push(`line ${install.line}: npm ci without --omit=dev`);
    for (const match of install.args.matchAll(/(?:^|\s)(?:-w|--workspace)(?:=|\s+)(\S+)/g)) {
      facts.workspaces.push(match[1] ?? "");
    }
    if (facts.workspaces.length === 0)
      problems.push(`line ${install.line}: npm ci installs every workspace (name them with -w)`);
  }
  if (final === undefined) return { problems, facts };

  const finalRuns = final.instructions.filter((i) => i.keyword === "RUN");
  for (const run of finalRuns) {
    const withoutRemoval = run.args.replace(/^rm\s+-rf\s+[^&;|]*$/, "");
    if (BUILD_TOOLS.test(withoutRemoval))
      problems.push(`line ${run.line}: the final stage runs a build tool: ${run.args}`);
  }
  if (
    !final.instructions.some(
      (i) =>
        i.keyword === "COPY" &&
        /--from=(\S+)/.test(i.args) &&
        names.has(/--from=(\S+)/.exec(i.args)?.[1] ?? ""),
    )
  ) {
    problems.push("the final stage copies nothing from an earlier stage");
  }
  const user = final.instructions.filter((i) => i.keyword === "USER").at(-1);
  const uid = user?.args.split(":")[0];
  if (user === undefined) problems.push("the final stage runs as root (no USER)");
  else if (uid === "root" || uid === "0" || !/^(node|[1-9][0-9]*)$/.test(uid ?? "")) {
    problems.push(`USER ${user.args} is not a non-root user`);
  }
  for (const expose of final.instructions.filter((i) => i.keyword === "EXPOSE")) {
    for (const port of expose.args.split(/\s+/)) facts.exposedPorts.push(Number(port.split("/")[0]));
  }
  const cmd = final.instructions.filter((i) => i.keyword === "CMD").at(-1);
  if (final.instructions.some((i) => i.keyword === "ENTRYPOINT"))
    problems.push("sets an ENTRYPOINT (CMD alone says how it starts)");
  if (cmd === undefined) {
    problems.push("no CMD");
    return { problems, facts };
  }
  const command = execForm(cmd.args);
  facts.command = command;
  if (command === undefined) {
    problems.push(`line ${cmd.line}: CMD is not exec form`);
    return { problems, facts };
  }
  if (command[0] !== "node") problems.push(`CMD runs ${command[0]}, not node`);
  const preloadAt = command.indexOf("--import");
  if (preloadAt < 0 || command[preloadAt + 1] !== expected.preload)
    problems.push(`CMD does not --import ${expected.preload}`);
  if (command.at(-1) !== expected.entry) problems.push(`CMD runs ${command.at(-1)}, not ${expected.entry}`);
  return { problems, facts };
}

/** .dockerignore semantics for the patterns it supports (`*`, `?`, `**`, leading `!`); last match wins. */
export function dockerIgnored(patterns: readonly string[], path: string): boolean {
  const rules = patterns
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const negate = line.startsWith("!");
      const pattern = (negate ? line.slice(1) : line).replace(/^\/+|\/+$/g, "");
      return { negate, regex: globToRegex(pattern) };
    });
  const segments = path.split("/");
  let ignored = false;
  for (const rule of rules) {
    for (let length = 1; length <= segments.length; length++) {
      if (rule.regex.test(segments.slice(0, length).join("/"))) {
        ignored = !rule.negate;
        break;
      }
    }
  }
  return ignored;
}

function globToRegex(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] ?? "";
    if (char === "*" && pattern[i + 1] === "*") {
      const slash = pattern[i + 2] === "/";
      out += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (char === "*") out += "[^/]*";
    else if (char === "?") out += "[^/]";
    else out += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}
