/**
 * IP addresses as text (docs/grant-format.md, "Source addresses"): IPv4 as
 * four decimal octets without leading zeros, IPv6 in any form of RFC 4291,
 * 2.2. The same addresses `node:net`'s isIP accepts, read here instead:
 * loading `node:net` would put its sockets and streams into the host's
 * executable, which every login pays for (scripts/build-sea.mjs).
 */

export interface IpAddress {
  family: 4 | 6;
  /** The address as an integer of 32 or 128 bits. */
  value: bigint;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;
const GROUP = /^[0-9a-fA-F]{1,4}$/;
/** What may follow `%` in an IPv6 address: an interface's name or number. */
const ZONE = /^[0-9a-zA-Z.:-]+$/;

function ipv4Value(text: string): bigint | undefined {
  const octets = text.split(".");
  if (octets.length !== 4) return undefined;
  let value = 0n;
  for (const octet of octets) {
    if (!OCTET.test(octet) || Number(octet) > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function groupsOf(text: string): string[] | undefined {
  if (text === "") return [];
  const groups = text.split(":");
  return groups.every((g) => GROUP.test(g)) ? groups : undefined;
}

function ipv6Value(text: string): bigint | undefined {
  const lastColon = text.lastIndexOf(":");
  if (lastColon === -1) return undefined;
  let hex = text;
  let tail: bigint | undefined;
  // A dotted IPv4 tail stands for the last two groups.
  if (text.slice(lastColon + 1).includes(".")) {
    tail = ipv4Value(text.slice(lastColon + 1));
    if (tail === undefined) return undefined;
    hex = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = hex.split("::");
  if (halves.length > 2) return undefined;
  const head = groupsOf(halves[0] ?? "");
  const rest = halves.length === 2 ? groupsOf(halves[1] ?? "") : [];
  if (head === undefined || rest === undefined) return undefined;
  const written = head.length + rest.length;
  // `::` stands for one or more groups of zeros.
  if (halves.length === 1 ? written !== 8 : written > 7) return undefined;
  const groups = [...head, ...new Array<string>(8 - written).fill("0"), ...rest];
  const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n);
  return tail === undefined ? value : value | tail;
}

/** An IPv4 or IPv6 address without a zone id; undefined for anything else. */
export function parseIpAddress(text: string): IpAddress | undefined {
  if (text.includes(":")) {
    const value = ipv6Value(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = ipv4Value(text);
  return value === undefined ? undefined : { family: 4, value };
}

/** 4 or 6 for an IP address, an IPv6 one with or without a zone id (`fe80::1%eth0`); 0 for anything else. */
export function ipAddressFamily(text: string): 0 | 4 | 6 {
  const percent = text.indexOf("%");
  if (percent === -1) return parseIpAddress(text)?.family ?? 0;
  const address = parseIpAddress(text.slice(0, percent));
  return address?.family === 6 && ZONE.test(text.slice(percent + 1)) ? 6 : 0;
}
