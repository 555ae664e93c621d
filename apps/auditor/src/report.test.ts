import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditScenario, ISSUER_KEY_ID, T0 } from "./audit-logs.fixture.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const OUTPUT = fileURLToPath(new URL("../test-output/", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "airgrant-report-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Strings a hostile host or a hand-edited log could carry into the report. */
const HOSTILE_USER = "<script>window.pwned=1</script>";
const HOSTILE_HOST = '"><img src="http://127.0.0.1:9/pixel.png" onerror="window.pwned=2">';
const HOSTILE_OFFICER = '</td><iframe src="https://example.com/"></iframe><style>body{display:none}</style>';

let report = "";
let unknownGrant = "";
let overused = "";
let sessionGrant = "";

beforeAll(() => {
  const s = new AuditScenario(work);
  s.signerEntry("bundle-exported", { clockSkew: 300 });
  s.signerEntry("bundle-exported", { bundleId: "2".repeat(32), clockSkew: 300, trustVersion: 2 });
  s.signerEntry("bundle-exported", { bundleId: "3".repeat(32), clockSkew: 300, trustVersion: 3 });
  s.hostEntry("db1.example", "bundle-installed", {
    bundleId: "2".repeat(32),
    issuers: [],
    sha256: "0".repeat(64),
    trustVersion: 2,
  });
  const clean = s.issue({ officer: "olivia" });
  const twice = s.issue({ officer: HOSTILE_OFFICER, maxUses: 1 });
  s.issue({ officer: "olivia", user: "carol" });
  overused = twice.grantId;
  sessionGrant = clean.grantId;
  unknownGrant = "feedfacefeedfacefeedfacefeedface";
  s.use("db1.example", clean);
  s.use("db1.example", twice, { at: T0 + 60 });
  s.use("db2.example", twice, { host: "db1.example", at: T0 + 120 });
  s.use("db2.example", { ...clean, grantId: unknownGrant }, { user: HOSTILE_USER, host: HOSTILE_HOST });
  s.use("db2.example", clean, { verdict: "wrong-user", user: "eve", at: T0 + 30 });
  s.hostEntry(
    "db1.example",
    "session-closed",
    {
      reason: "logout",
      user: HOSTILE_USER,
      host: "db1.example",
      grantId: clean.grantId,
      checkSeq: 1,
      auditSession: 81,
      openedAt: T0 + 601,
      accessEndsAt: clean.notAfter,
      seconds: 299,
    },
    T0 + 900,
  );
  report = join(work, "report.html");
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      "report",
      "--signer",
      s.signerLog,
      "--host",
      s.hostLog("db1.example"),
      s.hostLog("db2.example"),
      "--out",
      report,
    ],
    { encoding: "utf8" },
  );
  expect(r.stderr).toBe("error: reconcile-findings: 2 finding(s)\n");
  expect(r.status).toBe(1);
  expect(r.stdout).toBe(`${report}: 2 finding(s), 3 grant(s), 3 use(s)\n`);
});

describe("airgrant-auditor report", () => {
  it("writes one self-contained file with every log string escaped", () => {
    const html = readFileSync(report, "utf8");
    expect(html.startsWith("<!doctype html>")).toBe(true);
    // Nothing to fetch or run: no script, image, frame, link or url(); one style element, ours.
    expect(html).not.toMatch(/<(script|img|iframe|link|object|embed|svg:image)\b|url\(/i);
    expect(html.match(/<style/g)).toHaveLength(1);
    expect(html).toContain("default-src 'none'");
    expect(html).toContain("&#60;script&#62;window.pwned=1&#60;/script&#62;");
    expect(html).toContain("&#34;&#62;&#60;img src=&#34;http://127.0.0.1:9/pixel.png&#34;");
    expect(html).toContain("&#60;/td&#62;&#60;iframe");
    // Findings come before everything else.
    expect(html.indexOf('id="findings"')).toBeLessThan(html.indexOf('id="timeline"'));
    // The login's timeline: its use, then its session's close.
    expect(html).toMatch(
      new RegExp(
        `<td>used</td><td><code>${sessionGrant}</code>.*<td>closed</td><td><code>${sessionGrant}</code></td><td>[^<]*</td><td>db1.example</td><td>session logout after 299 s; access ended `,
        "s",
      ),
    );
    // Each session of a grant's login, with its length.
    expect(html).toContain("1 session(s) of grants&#39; logins closed: 1 logout, 0 expiry, 0 reboot");
    expect(html).toMatch(
      new RegExp(
        `<table id="sessions">.*<td>&#60;script&#62;window.pwned=1&#60;/script&#62;</td><td><code>${sessionGrant}</code></td><td>[^<]+</td><td>logout</td><td>299 s</td>`,
        "s",
      ),
    );
  });

  it("shows the findings in headless Chromium, offline, and fetches nothing", async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: the report test needs Debian's chromium (apt-get install -y chromium)`);
    }
    const profile = mkdtempSync(join(tmpdir(), "airgrant-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const requests: string[] = [];
      context.on("request", (request) => requests.push(request.url()));
      await context.route(/^(?!file:)/, (route) => route.abort());
      const page = context.pages()[0] ?? (await context.newPage());
      const dialogs: string[] = [];
      page.on("dialog", (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      const url = pathToFileURL(report).href;
      await page.goto(url);

      await expect(page.locator("#verdict").textContent()).resolves.toBe("2 finding(s)");
      const findings = page.locator("#findings");
      expect(await findings.isVisible()).toBe(true);
      const text = (await findings.textContent()) ?? "";
      expect(text).toContain("unknown-grant");
      expect(text).toContain(unknownGrant);
      expect(text).toContain("grant-overused");
      expect(text).toContain(overused);
      // The hostile strings show as text, and did nothing.
      expect(text).toContain(HOSTILE_USER);
      expect(text).toContain(HOSTILE_HOST);
      expect((await page.locator("#officers").textContent()) ?? "").toContain(HOSTILE_OFFICER);
      const trust = (await page.locator("#trust-versions").textContent()) ?? "";
      expect(trust).toContain(`trust version 2 since ${new Date(T0 * 1000).toISOString()}`);
      expect(trust).toContain("no bundle-installed entry");
      expect((await page.locator("#issuer-keys").textContent()) ?? "").toContain(ISSUER_KEY_ID);
      expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
      expect(await page.locator("img, iframe, script").count()).toBe(0);
      // Three grants issued, four uses, one session closed.
      expect(await page.locator("#timeline tbody tr").count()).toBe(8);
      expect(dialogs).toEqual([]);
      expect(requests).toEqual([url]);

      mkdirSync(OUTPUT, { recursive: true });
      await page.screenshot({ path: join(OUTPUT, "report.png"), fullPage: true });
      expect(existsSync(join(OUTPUT, "report.png"))).toBe(true);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 90_000);
});
