import { BlockList } from "node:net";
import { codeOf } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkSourceAddressList, sourceAddressAllows } from "./source-address.js";

const ipv4Text = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
const ipv6Text = (v: bigint) =>
  Array.from({ length: 8 }, (_, i) => ((v >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(":");
const mask = (bits: number, prefix: number) => ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);

const ipv4 = fc.integer({ min: 0, max: 0xffff_ffff });
const ipv6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).filter((v) => v >> 32n !== 0xffffn);

describe("checkSourceAddressList", () => {
  it("accepts addresses and CIDR blocks of both families", () => {
    for (const list of ["10.0.0.1", "10.0.0.0/8,fd00::1", "192.0.2.0/24,2001:db8::/32", "0.0.0.0/0,::/0", "::1/128"]) {
      expect(
        codeOf(() => checkSourceAddressList(list)),
        list,
      ).toBeUndefined();
    }
  });

  it("refuses zone ids, host bits, leading zeros, mapped addresses and stray syntax", () => {
    for (const list of [
      "",
      "fe80::1%eth0",
      "fe80::%1/64",
      "10.0.0.1/8",
      "2001:db8::1/32",
      "10.0.0.0/08",
      "10.0.0.0/33",
      "::/129",
      "10.0.0.0/",
      "10.0.0.0/8/8",
      "::ffff:10.0.0.1",
      "::ffff:10.0.0.0/104",
      "010.0.0.1",
      "10.0.0.1,",
      "10.0.0.1, 10.0.0.2",
      "db1.example",
      `${"1.2.3.4,".repeat(8)}1.2.3.4`,
    ]) {
      expect(
        codeOf(() => checkSourceAddressList(list)),
        list,
      ).toBe("invalid-grant-field");
    }
  });

  it("refuses a block with any host bit set, whatever the address and prefix", () => {
    fc.assert(
      fc.property(ipv4, fc.integer({ min: 0, max: 31 }), (v, prefix) => {
        const hostBits = BigInt(v) & ~mask(32, prefix) & 0xffff_ffffn;
        const refused = codeOf(() => checkSourceAddressList(`${ipv4Text(v)}/${prefix}`)) === "invalid-grant-field";
        expect(refused).toBe(hostBits !== 0n);
      }),
    );
  });

  it("throws nothing but invalid-grant-field on any text", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 70 }), fc.stringMatching(/^[0-9a-f:.%/,]{0,64}$/)), (list) => {
        expect([undefined, "invalid-grant-field"]).toContain(codeOf(() => checkSourceAddressList(list)));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("sourceAddressAllows", () => {
  it("matches an address inside a block and not outside it", () => {
    expect(sourceAddressAllows("10.1.0.0/16", "10.1.2.3")).toBe(true);
    expect(sourceAddressAllows("10.1.0.0/16", "10.2.2.3")).toBe(false);
    expect(sourceAddressAllows("10.0.0.1", "10.0.0.1")).toBe(true);
    expect(sourceAddressAllows("10.0.0.1", "10.0.0.2")).toBe(false);
    expect(sourceAddressAllows("fd00::/8", "fd00::5")).toBe(true);
    expect(sourceAddressAllows("fd00::/8", "fe00::5")).toBe(false);
    expect(sourceAddressAllows("192.0.2.0/24,2001:db8::/32", "2001:db8:1::9")).toBe(true);
  });

  it("reads an IPv4-mapped IPv6 client as the IPv4 client it is", () => {
    expect(sourceAddressAllows("10.0.0.0/8", "::ffff:10.0.0.1")).toBe(true);
    expect(sourceAddressAllows("10.0.0.0/8", "::FFFF:10.0.0.1")).toBe(true);
    expect(sourceAddressAllows("10.0.0.0/8", "::ffff:a00:1")).toBe(true);
    expect(sourceAddressAllows("10.0.0.0/8", "::ffff:11.0.0.1")).toBe(false);
    // The client is IPv4: IPv6 entries, even ::/0, are not about it.
    expect(sourceAddressAllows("::/0", "::ffff:10.0.0.1")).toBe(false);
    expect(sourceAddressAllows("::/0", "10.0.0.1")).toBe(false);
    expect(sourceAddressAllows("0.0.0.0/0", "::1")).toBe(false);
  });

  it("never matches a zone id, a host name, nothing, or a list outside the grammar", () => {
    expect(sourceAddressAllows("fe80::/10", "fe80::1%eth0")).toBe(false);
    expect(sourceAddressAllows("fe80::/10", "fe80::1")).toBe(true);
    expect(sourceAddressAllows("0.0.0.0/0", "db1.example")).toBe(false);
    expect(sourceAddressAllows("0.0.0.0/0", undefined)).toBe(false);
    expect(sourceAddressAllows("0.0.0.0/0", "")).toBe(false);
    expect(sourceAddressAllows("0.0.0.0/0", " 10.0.0.1")).toBe(false);
    expect(sourceAddressAllows("10.0.0.1/8", "10.0.0.1")).toBe(false);
    expect(sourceAddressAllows("fe80::1%eth0", "fe80::1")).toBe(false);
  });

  it("agrees with a prefix comparison for IPv4, for the client and its mapped form", () => {
    fc.assert(
      fc.property(ipv4, ipv4, fc.integer({ min: 0, max: 32 }), (net, client, prefix) => {
        const m = mask(32, prefix);
        const block = `${ipv4Text(Number(BigInt(net) & m))}/${prefix}`;
        const expected = (BigInt(net) & m) === (BigInt(client) & m);
        expect(sourceAddressAllows(block, ipv4Text(client))).toBe(expected);
        expect(sourceAddressAllows(block, `::ffff:${ipv4Text(client)}`)).toBe(expected);
        expect(sourceAddressAllows(block, ipv4Text(Number(BigInt(net) & m)))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("agrees with node's BlockList for IPv6 blocks and clients", () => {
    fc.assert(
      fc.property(ipv6, ipv6, fc.integer({ min: 0, max: 128 }), (net, client, prefix) => {
        const network = ipv6Text(net & mask(128, prefix));
        const list = new BlockList();
        list.addSubnet(network, prefix, "ipv6");
        const near = (net & mask(128, prefix)) | (client & ~mask(128, prefix) & ((1n << 128n) - 1n));
        // A mapped client is an IPv4 one (tested above); BlockList matches it against IPv6 blocks.
        for (const c of [client, near].filter((v) => v >> 32n !== 0xffffn).map(ipv6Text)) {
          expect(sourceAddressAllows(`${network}/${prefix}`, c), `${network}/${prefix} ${c}`).toBe(
            list.check(c, "ipv6"),
          );
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws, whatever the list and the client", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), fc.option(fc.string({ maxLength: 50 })), (list, client) => {
        expect(typeof sourceAddressAllows(list, client ?? undefined)).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });
});
