import { defineConfig } from "vitest/config";

// Two projects, both run by `npm test`: the unit tests beside each package's
// code, and the end-to-end tests across the parts (real SoftHSM2, sshd, PAM).
// `npx vitest run --project unit` runs one of them.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: "unit", include: ["packages/*/src/**/*.test.ts", "apps/*/src/**/*.test.ts"] } },
      { extends: true, test: { name: "e2e", include: ["test/**/*.test.ts"] } },
    ],
  },
});
