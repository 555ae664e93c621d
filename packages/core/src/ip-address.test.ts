import { isIP } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ipAddressFamily, parseIpAddress } from "./ip-address.js";

// node:net's isIP is the reference these are held to: the host reads
// addresses without loading node:net (ip-address.ts says why).

/** Mostly what an address is made of, now and then what it must not be. */
const hexGroup = fc.oneof(
  { weight: 12, arbitrary: fc.stringMatching(/^[0-9a-fA-F]{1,4}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[0-9a-fA-F]{5}$|^$|^[g-z]$/) },
);
const octet = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 255 }).map(String) },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.integer({ min: 256, max: 999 }).map(String), fc.stringMatching(/^0[0-9]{1,2}$/)),
  },
);
const dotted = fc.oneof(
  { weight: 8, arbitrary: fc.array(octet, { minLength: 4, maxLength: 4 }).map((o) => o.join(".")) },
  { weight: 1, arbitrary: fc.array(octet, { minLength: 3, maxLength: 5 }).map((o) => o.join(".")) },
);
/** An IPv6 address in one of its written forms: a run of groups left out as `::`, a dotted tail, either case. */
const ipv6Written = fc
  .tuple(
    fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }),
    fc.nat(8),
    fc.nat(8),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([groups, a, b, dottedTail, upper]) => {
    const hex = groups.map((g) => (upper ? g.toString(16).toUpperCase() : g.toString(16)));
    let text = hex.join(":");
    if (dottedTail) {
      const [x = 0, y = 0] = groups.slice(6);
      text = `${hex.slice(0, 6).join(":")}:${[x >> 8, x & 255, y >> 8, y & 255].join(".")}`;
    }
    const [from, to] = [Math.min(a, b), Math.max(a, b)];
    if (from === to || (dottedTail && to > 6)) return text;
    const parts = text.split(":");
    return `${parts.slice(0, from).join(":")}::${parts.slice(to).join(":")}`;
  });
/** Text shaped like an address, right or wrong in every way an address can be. */
const addressLike = fc.oneof(
  dotted,
  ipv6Written,
  fc.tuple(ipv6Written, fc.stringMatching(/^[0-9a-zA-Z.:%_-]{0,6}$/)).map(([a, zone]) => `${a}%${zone}`),
  fc
    .tuple(
      fc.array(hexGroup, { maxLength: 9 }),
      fc.constantFrom("", "::", "::", ":::"),
      fc.array(hexGroup, { maxLength: 8 }),
      fc.option(dotted, { freq: 4 }),
      fc.option(fc.stringMatching(/^[0-9a-zA-Z.:%_-]{0,6}$/), { freq: 4 }),
    )
    .map(
      ([head, gap, rest, tail, zone]) =>
        `${head.join(":")}${gap}${rest.join(":")}${tail === null ? "" : `:${tail}`}${zone === null ? "" : `%${zone}`}`,
    ),
  fc.stringMatching(/^[0-9a-fA-F:.%]{0,24}$/),
);

describe("IP addresses", () => {
  it("accepts exactly the addresses node:net's isIP accepts, of the same family", () => {
    fc.assert(
      fc.property(addressLike, (text) => {
        expect(ipAddressFamily(text)).toBe(isIP(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it("reads each written form to its value, and refuses a zone id where an address is asked for", () => {
    expect(parseIpAddress("192.0.2.10")).toEqual({ family: 4, value: 0xc000020an });
    expect(parseIpAddress("::")).toEqual({ family: 6, value: 0n });
    expect(parseIpAddress("::1")).toEqual({ family: 6, value: 1n });
    expect(parseIpAddress("2001:DB8::8:800:200C:417A")).toEqual({
      family: 6,
      value: 0x20010db8000000000008080020_0c417an,
    });
    expect(parseIpAddress("::ffff:192.0.2.1")).toEqual({ family: 6, value: 0xffff_c0000201n });
    expect(parseIpAddress("1:2:3:4:5:6:7::")).toEqual({ family: 6, value: 0x0001000200030004000500060007_0000n });
    for (const text of ["fe80::1%eth0", "010.0.0.1", "1.2.3", "1::2::3", "1:2:3:4:5:6:7:8:9", "::1.2.3.256", ""]) {
      expect(parseIpAddress(text), text).toBeUndefined();
    }
    expect(ipAddressFamily("fe80::1%eth0")).toBe(6);
    expect(ipAddressFamily("10.0.0.1%eth0")).toBe(0);
  });

  it("gives every address the value of its full form", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (value) => {
        const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
        expect(parseIpAddress(groups.join(":"))?.value).toBe(value);
      }),
    );
  });
});
