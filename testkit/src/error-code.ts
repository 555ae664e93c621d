/**
 * The `code` of the AirgrantError that `fn` throws, or undefined when it
 * returns. Anything else thrown fails the test. Matched by name rather than
 * instanceof: the error may come from @airgrant/core's sources (its own
 * tests) or from its build (every other package's).
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
