import { makeGrantText, makeTestIssuer, testFields } from "@airgrant/testkit";
import { PNG } from "pngjs";
import decodeQR from "qr/decode.js";
import { describe, expect, it } from "vitest";
import { grantQrPng, grantQrSvg, grantQrTerminal } from "./grant-qr.js";

const issuer = makeTestIssuer();
const text = makeGrantText(testFields(issuer), [issuer]);

describe("grant QR codes", () => {
  it("PNG decodes back to the exact grant text", () => {
    const png = PNG.sync.read(Buffer.from(grantQrPng(text)));
    const decoded = decodeQR({ width: png.width, height: png.height, data: new Uint8Array(png.data) });
    expect(decoded).toBe(text);
  });

  it("fits the longest single-signature grant in QR version 14", () => {
    const longest = `AG1-${"0123456-".repeat(64)}`.slice(0, 511);
    const png = PNG.sync.read(Buffer.from(grantQrPng(longest, 1)));
    // Version v has 17 + 4v modules a side, plus the 4-module quiet zone on each side.
    expect((png.width - 8 - 17) / 4).toBeLessThanOrEqual(14);
    expect(decodeQR({ width: png.width, height: png.height, data: new Uint8Array(png.data) })).toBe(longest);
  });

  it("SVG is a standalone SVG document", () => {
    const svg = grantQrSvg(text);
    expect(svg).toMatch(/^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  });

  it("terminal form is UTF-8 blocks, square, and only block characters", () => {
    const lines = grantQrTerminal(text)
      .split("\n")
      .filter((l) => l.length > 0);
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.join("")).toMatch(/^[ \u2580\u2584\u2588]+$/);
    const width = lines[0]?.length ?? 0;
    expect(lines.every((l) => l.length === width)).toBe(true);
    expect(Math.ceil(width / 2)).toBe(lines.length);
  });
});
