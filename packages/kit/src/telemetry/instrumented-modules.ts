/**
 * The modules the instrumentations in `sdk.ts` patch, by the names they ask import-in-the-middle for. The
 * preload's loader hook wraps these and nothing else, so the application's own modules load untouched; it is
 * registered before the SDK loads, so the list lives here, apart from the instrumentations themselves
 * (`preload.test.ts` keeps the two in step).
 */
export const INSTRUMENTED_MODULES: readonly string[] = ["http", "https", "mysql2"];
