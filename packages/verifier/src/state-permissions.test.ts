import { chmodSync, chownSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codeOf, makeBundleBytes, makeTestIssuer } from "@airgrant/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installBundle, loadInstalledBundle } from "./host-state.js";
import { type HostState, hostState } from "./state-paths.js";
import { checkStatePermissions } from "./state-permissions.js";

/** A uid nobody on a test host has: ownership by someone other than root or us. */
const STRANGER = 4_242_424;
const issuer = makeTestIssuer();
const clock = () => new Date();

let work: string;
let state: HostState;
beforeEach(() => {
  if (process.getuid?.() !== 0)
    throw new Error("state-permissions.test.ts chowns files to another uid: run it as root");
  work = mkdtempSync(join(tmpdir(), "airgrant-perms-"));
  state = hostState(join(work, "state"));
  installBundle(state, makeBundleBytes([issuer]), clock, { receiptPath: join(work, "receipt.json") });
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

/** The message of the state-insecure refusal, or a failure naming what happened instead. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect((err as { code?: string }).code).toBe("state-insecure");
    return (err as Error).message;
  }
  throw new Error("not refused");
}

describe("checkStatePermissions", () => {
  it("accepts the state install-bundle makes, and a state directory not made yet", () => {
    expect(() => checkStatePermissions(state)).not.toThrow();
    expect(loadInstalledBundle(state).issuers).toHaveLength(1);
    expect(() => checkStatePermissions(hostState(join(work, "later", "state")))).not.toThrow();
  });

  it("refuses a state directory others can write, naming it", () => {
    chmodSync(state.dir, 0o777);
    expect(refusal(() => loadInstalledBundle(state))).toMatch(
      new RegExp(`^${state.dir} is writable by others \\(mode 0777\\)`),
    );
    chmodSync(state.dir, 0o1777);
    expect(refusal(() => loadInstalledBundle(state))).toContain(state.dir);
    chmodSync(state.dir, 0o770);
    expect(refusal(() => loadInstalledBundle(state))).toContain("mode 0770");
  });

  it("refuses a parent others can write unless it is sticky, like /tmp", () => {
    chmodSync(work, 0o777);
    expect(refusal(() => loadInstalledBundle(state))).toMatch(new RegExp(`^${work} is writable by others`));
    expect(refusal(() => installBundle(state, makeBundleBytes([issuer]), clock))).toContain(work);
    chmodSync(work, 0o1777);
    expect(() => loadInstalledBundle(state)).not.toThrow();
    // Not made yet, under a parent others can write: install-bundle would make it where they can replace it.
    chmodSync(work, 0o777);
    expect(refusal(() => checkStatePermissions(hostState(join(work, "later", "state"))))).toContain(work);
  });

  it("refuses a file or directory owned by someone else, or writable by others", () => {
    for (const name of ["bundle.json", "audit.log", "seal.key", "used"]) {
      const path = join(state.dir, name);
      chownSync(path, STRANGER, 0);
      expect(refusal(() => loadInstalledBundle(state))).toBe(
        `${path} is owned by uid ${STRANGER}: the verifier acts only on state that nobody but root can change; chown root:root ${path}`,
      );
      chownSync(path, 0, 0);
      chmodSync(path, name === "used" ? 0o770 : 0o620);
      expect(refusal(() => loadInstalledBundle(state))).toContain(`${path} is`);
      chmodSync(path, name === "used" ? 0o700 : 0o600);
    }
    expect(() => loadInstalledBundle(state)).not.toThrow();
  });

  it("refuses a sealing key others can read", () => {
    chmodSync(join(state.dir, "seal.key"), 0o640);
    expect(refusal(() => loadInstalledBundle(state))).toContain("seal.key is readable or writable by others");
    chmodSync(join(state.dir, "seal.key"), 0o600);
    chmodSync(state.bundlePath, 0o644);
    expect(() => loadInstalledBundle(state)).not.toThrow();
  });

  it("refuses a symbolic link in place of any state file, wherever it points", () => {
    for (const name of ["bundle.json", "audit.log", "seal.key", "used"]) {
      const path = join(state.dir, name);
      renameSync(path, `${path}.real`);
      symlinkSync(`${path}.real`, path);
      expect(refusal(() => loadInstalledBundle(state))).toMatch(new RegExp(`^${path} is a symbolic link`));
      rmSync(path);
      renameSync(`${path}.real`, path);
    }
    mkdirSync(join(work, "elsewhere"));
    symlinkSync(join(work, "elsewhere"), join(state.usedDir, ".watermark"));
    expect(refusal(() => loadInstalledBundle(state))).toContain(".watermark is a symbolic link");
  });

  it("install-bundle does not make a missing one-time store again once a bundle is installed", () => {
    renameSync(state.usedDir, `${state.usedDir}.old`);
    expect(codeOf(() => installBundle(state, makeBundleBytes([issuer]), clock))).toBe("state-corrupt");
  });
});
