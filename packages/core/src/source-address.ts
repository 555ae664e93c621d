import { AirgrantError } from "./airgrant-error.js";
import { type IpAddress, parseIpAddress } from "./ip-address.js";

/**
 * The `source-address` extension of a grant (docs/grant-format.md,
 * "Source addresses"): its syntax, checked when a grant is minted and
 * decoded, and whether a client address matches it.
 */

export const MAX_SOURCE_ADDRESS_LIST_BYTES = 64;

interface AddressBlock extends IpAddress {
  prefix: number;
}

const PREFIX_PATTERN = /^(0|[1-9][0-9]{0,2})$/;
const IPV4_MAPPED = 0xffffn;

function bitsOf(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

function isIpv4Mapped(value: bigint): boolean {
  return value >> 32n === IPV4_MAPPED;
}

function invalidEntry(item: string, why: string): AirgrantError {
  return new AirgrantError("invalid-grant-field", `source address '${item}' ${why}`);
}

function parseEntry(item: string): AddressBlock {
  const slash = item.indexOf("/");
  const addressText = slash === -1 ? item : item.slice(0, slash);
  const address = parseIpAddress(addressText);
  if (address === undefined) {
    throw invalidEntry(item, addressText.includes("%") ? "has a zone id" : "is not an IP address or CIDR block");
  }
  if (address.family === 6 && isIpv4Mapped(address.value)) {
    throw invalidEntry(item, "is an IPv4-mapped IPv6 address; write the IPv4 address");
  }
  const bits = bitsOf(address.family);
  let prefix = bits;
  if (slash !== -1) {
    const prefixText = item.slice(slash + 1);
    if (!PREFIX_PATTERN.test(prefixText) || Number(prefixText) > bits) {
      throw invalidEntry(item, `has a prefix length that is not 0-${bits} without leading zeros`);
    }
    prefix = Number(prefixText);
  }
  const hostBits = BigInt(bits - prefix);
  if (address.value & ((1n << hostBits) - 1n)) throw invalidEntry(item, "has host bits set after its prefix");
  return { family: address.family, value: address.value, prefix };
}

function parseList(list: string): AddressBlock[] {
  if (list.length === 0 || Buffer.byteLength(list, "utf8") > MAX_SOURCE_ADDRESS_LIST_BYTES) {
    throw new AirgrantError(
      "invalid-grant-field",
      `source address list must be 1-${MAX_SOURCE_ADDRESS_LIST_BYTES} characters`,
    );
  }
  return list.split(",").map(parseEntry);
}

/**
 * Check a source-address list against its grammar: comma-separated IPv4 or
 * IPv6 addresses or CIDR blocks, no zone id, no IPv4-mapped IPv6, prefix
 * lengths without leading zeros, no host bits set. Throws `invalid-grant-field`.
 */
export function checkSourceAddressList(list: string): void {
  parseList(list);
}

/**
 * Whether a login from `remoteAddress` is one the list allows. An IPv4-mapped
 * IPv6 client (`::ffff:10.0.0.1`, as a dual-stack socket reports an IPv4
 * peer) is the IPv4 client it maps; a client is matched against the entries
 * of its own family only. An unknown address, a host name, an address with a
 * zone id, or a list that fails its grammar never matches.
 */
export function sourceAddressAllows(list: string, remoteAddress: string | undefined): boolean {
  if (remoteAddress === undefined) return false;
  const remote = parseIpAddress(remoteAddress);
  if (remote === undefined) return false;
  const client =
    remote.family === 6 && isIpv4Mapped(remote.value)
      ? { family: 4 as const, value: remote.value & 0xffff_ffffn }
      : remote;
  let blocks: AddressBlock[];
  try {
    blocks = parseList(list);
  } catch {
    return false;
  }
  return blocks.some((block) => {
    if (block.family !== client.family) return false;
    const hostBits = BigInt(bitsOf(block.family) - block.prefix);
    return client.value >> hostBits === block.value >> hostBits;
  });
}
