import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSoftHsmToken } from "./softhsm-token.js";

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("createSoftHsmToken", () => {
  it("writes a configuration of its own and initialises the token once", () => {
    dir = mkdtempSync(join(tmpdir(), "airgrant-softhsm-"));
    const options = { dir: join(dir, "demo"), tokenLabel: "airgrant demo", soPin: "so-123456", pin: "123456" };
    const first = createSoftHsmToken(options);
    expect(first.created).toBe(true);
    const conf = readFileSync(first.confPath, "utf8");
    expect(conf).toContain(`directories.tokendir = ${first.tokenDir}`);
    expect(conf).toContain("objectstore.backend = file");
    expect(conf).not.toContain(options.pin);
    expect(statSync(first.tokenDir).mode & 0o777).toBe(0o700);
    // Running it again (the quickstart twice) reuses the token instead of adding a second one.
    expect(createSoftHsmToken(options)).toEqual({ ...first, created: false });
  });
});
