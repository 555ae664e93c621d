import { PNG } from "pngjs";
import encodeQR from "qr";

/**
 * QR codes of a grant's text form, for phones and keyboard-wedge scanners.
 * The text form is upper case, digits and dashes, which QR's alphanumeric
 * mode packs at 5.5 bits a character; with medium error correction (15%)
 * every single-signature grant (at most 511 characters) fits version 14.
 */
const QR_OPTIONS = { ecc: "medium", encoding: "alphanumeric", border: 4 } as const;

/** For a terminal: UTF-8 half blocks, two modules a character cell. */
export function grantQrTerminal(grantText: string): string {
  return encodeQR(grantText, "ascii", QR_OPTIONS);
}

export function grantQrSvg(grantText: string): string {
  return encodeQR(grantText, "svg", QR_OPTIONS);
}

/** A black-on-white PNG, `scale` pixels a module. */
export function grantQrPng(grantText: string, scale = 8): Uint8Array {
  const modules = encodeQR(grantText, "raw", QR_OPTIONS);
  const size = modules.length * scale;
  const png = new PNG({ width: size, height: size, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  const pixels = Buffer.alloc(size * size, 0xff);
  modules.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (!dark) return;
      for (let dy = 0; dy < scale; dy++)
        pixels.fill(0, (y * scale + dy) * size + x * scale, (y * scale + dy) * size + (x + 1) * scale);
    });
  });
  png.data = pixels;
  return new Uint8Array(PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
}
