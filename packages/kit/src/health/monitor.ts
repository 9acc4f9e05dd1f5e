import { HealthCheckResponse_ServingStatus as ServingStatus } from "@ostmesh/proto/gen/grpc/health/v1/health_pb.js";
import type { Logger } from "pino";

export { ServingStatus };

/**
 * A dependency a process needs to serve: MySQL, NATS, another service. `check` resolves when the
 * dependency answers and rejects (with a reason worth logging) when it does not. `services` limits which
 * health names it affects; by default it affects all of them.
 */
export interface ReadinessCheck {
  readonly name: string;
  check(signal: AbortSignal): Promise<void>;
  readonly services?: readonly string[];
  /**
   * Default true. A check that is not required is still run and reported (/readyz, the readiness metric),
   * but its failure never makes the process as a whole ("" and /readyz) unready — only the health names
   * in `services`, when given: for a dependency the process can serve without (NATS for a service whose
   * events wait in the outbox).
   */
  readonly required?: boolean;
}

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  /** False for a check that is only reported (see ReadinessCheck.required). */
  readonly required: boolean;
  readonly error?: string;
  readonly durationMs: number;
}

export interface HealthReport {
  /** Every required check passed and the process is not shutting down. */
  readonly ready: boolean;
  readonly shuttingDown: boolean;
  readonly checks: readonly CheckResult[];
  readonly statuses: Readonly<Record<string, "SERVING" | "NOT_SERVING">>;
}

export interface HealthMonitorOptions {
  checks: readonly ReadinessCheck[];
  /** Health names besides "" (the whole process): logical service names, fully-qualified RPC services. */
  services: readonly string[];
  intervalMs: number;
  checkTimeoutMs: number;
  logger: Logger;
}

type Listener = () => void;

/**
 * Readiness of a process, from real checks. `evaluate()` runs every check (concurrent callers share one
 * run) and updates the status of every health name; a background loop re-evaluates every `intervalMs` so
 * Watch streams see changes. After `shutdown()` every name is NOT_SERVING for good.
 */
export class HealthMonitor {
  readonly #checks: readonly ReadinessCheck[];
  readonly #names: Set<string>;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #listeners = new Set<Listener>();
  #running: Promise<HealthReport> | undefined;
  #last: HealthReport | undefined;
  #timer: NodeJS.Timeout | undefined;
  #shuttingDown = false;
  readonly #stopped = new AbortController();

  constructor(options: HealthMonitorOptions) {
    this.#checks = options.checks;
    this.#names = new Set(["", ...options.services]);
    this.#intervalMs = options.intervalMs;
    this.#timeoutMs = options.checkTimeoutMs;
    this.#logger = options.logger;
    // Nothing is known until the first evaluation: NOT_SERVING, as a starting process should report.
    for (const name of this.#names) this.#statuses.set(name, ServingStatus.NOT_SERVING);
  }

  /** Aborted once the monitor shuts down; long-lived watchers end with it. */
  get stopped(): AbortSignal {
    return this.#stopped.signal;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  names(): string[] {
    return [...this.#names];
  }

  /** Current status of `name`, or undefined for a name this process does not know. */
  status(name: string): ServingStatus | undefined {
    return this.#statuses.get(name);
  }

  lastReport(): HealthReport | undefined {
    return this.#last;
  }

  /** Starts the background loop (first evaluation right away). */
  start(): void {
    if (this.#timer || this.#shuttingDown) return;
    const loop = () => {
      this.evaluate()
        .catch((error: unknown) => this.#logger.error({ err: error }, "health evaluation failed"))
        .finally(() => {
          if (!this.#shuttingDown) this.#timer = setTimeout(loop, this.#intervalMs).unref();
        });
    };
    this.#timer = setTimeout(loop, 0).unref();
  }

  /** Runs the checks now (or joins a run in progress) and returns the report. */
  evaluate(): Promise<HealthReport> {
    if (this.#running) return this.#running;
    this.#running = this.#runChecks().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Calls `listener` after any status changes; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Readiness goes NOT_SERVING for good; watchers are told, then their streams end. */
  shutdown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    clearTimeout(this.#timer);
    this.#apply(new Set(this.#names));
    this.#last = {
      ...(this.#last ?? { checks: [] }),
      ready: false,
      shuttingDown: true,
      statuses: this.#report(),
    };
    this.#stopped.abort();
  }

  async #runChecks(): Promise<HealthReport> {
    const checks = await Promise.all(this.#checks.map((c) => this.#runOne(c)));
    const failing = new Set<string>();
    for (const [i, result] of checks.entries()) {
      if (result.ok) continue;
      const scope = this.#checks[i]?.services;
      const required = this.#checks[i]?.required ?? true;
      for (const name of this.#names) {
        if (required && (name === "" || scope === undefined)) failing.add(name);
        else if (scope?.includes(name)) failing.add(name);
      }
    }
    if (this.#shuttingDown) for (const name of this.#names) failing.add(name);
    const previous = this.#last;
    this.#apply(failing);
    const report: HealthReport = {
      ready: !failing.has(""),
      shuttingDown: this.#shuttingDown,
      checks,
      statuses: this.#report(),
    };
    this.#last = report;
    if (previous?.ready !== report.ready && !this.#shuttingDown) {
      const failed = checks.filter((c) => !c.ok).map((c) => ({ check: c.name, error: c.error }));
      if (report.ready) this.#logger.info({ checks: checks.map((c) => c.name) }, "ready");
      // Not ready at start-up is expected (dependencies come up in any order); losing readiness is not.
      else if (previous === undefined) this.#logger.info({ failed }, "not ready yet");
      else this.#logger.warn({ failed }, "not ready");
    }
    return report;
  }

  async #runOne(check: ReadinessCheck): Promise<CheckResult> {
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    try {
      await new Promise<void>((resolve, reject) => {
        const onTimeout = () => reject(new Error(`no answer within ${this.#timeoutMs}ms`));
        timeout.addEventListener("abort", onTimeout, { once: true });
        check.check(timeout).then(resolve, reject);
      });
      return { name: check.name, ok: true, required: check.required ?? true, durationMs: elapsed() };
    } catch (error) {
      const message = error instanceof Error ? error.message || error.name : String(error);
      return {
        name: check.name,
        ok: false,
        required: check.required ?? true,
        error: message,
        durationMs: elapsed(),
      };
    }
  }

  #apply(failing: ReadonlySet<string>): void {
    let changed = false;
    for (const name of this.#names) {
      const next = failing.has(name) ? ServingStatus.NOT_SERVING : ServingStatus.SERVING;
      if (this.#statuses.get(name) !== next) {
        this.#statuses.set(name, next);
        changed = true;
      }
    }
    if (changed) for (const listener of this.#listeners) listener();
  }

  #report(): Record<string, "SERVING" | "NOT_SERVING"> {
    const out: Record<string, "SERVING" | "NOT_SERVING"> = {};
    for (const [name, status] of this.#statuses) {
      out[name] = status === ServingStatus.SERVING ? "SERVING" : "NOT_SERVING";
    }
    return out;
  }
}
