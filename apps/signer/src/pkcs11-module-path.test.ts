import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AirgrantError } from "@airgrant/core";
import { afterAll, describe, expect, it } from "vitest";
import { findPkcs11Module, PKCS11_MODULE_ENV } from "./pkcs11-module-path.js";

const dir = mkdtempSync(join(tmpdir(), "airgrant-module-path-"));
const fakeModule = join(dir, "libvendor-pkcs11.so");
writeFileSync(fakeModule, "");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (err) {
    return err instanceof AirgrantError ? err.code : "not-an-airgrant-error";
  }
  return undefined;
}

describe("findPkcs11Module", () => {
  it("takes AIRGRANT_PKCS11_MODULE over the search", () => {
    expect(findPkcs11Module({ [PKCS11_MODULE_ENV]: fakeModule }, ["/nonexistent"])).toBe(fakeModule);
  });

  it("refuses an override that does not exist, naming the variable", () => {
    expect(codeOf(() => findPkcs11Module({ [PKCS11_MODULE_ENV]: join(dir, "missing.so") }))).toBe("module-not-found");
    expect(() => findPkcs11Module({ [PKCS11_MODULE_ENV]: join(dir, "missing.so") })).toThrow(PKCS11_MODULE_ENV);
  });

  it("returns the first candidate that exists", () => {
    expect(findPkcs11Module({}, [join(dir, "nope.so"), fakeModule])).toBe(fakeModule);
  });

  it("says what to install when nothing is found", () => {
    expect(codeOf(() => findPkcs11Module({}, [join(dir, "nope.so")]))).toBe("module-not-found");
    expect(() => findPkcs11Module({}, [])).toThrow(/apt-get install softhsm2/);
  });

  it("finds the SoftHSM2 that CI installs", () => {
    expect(findPkcs11Module({})).toMatch(/libsofthsm2\.so$/);
  });
});
