// Test support only (excluded from the build).

/**
 * The `code` of the AirgrantError that `fn` throws, or undefined when it
 * returns. Anything else thrown fails the test. Matched by name rather than
 * instanceof, so that tests importing @airgrant/core's build and its sources
 * agree.
 */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof Error && err.name === "AirgrantError" && typeof (err as { code?: unknown }).code === "string") {
      return (err as Error & { code: string }).code;
    }
    throw err;
  }
}
