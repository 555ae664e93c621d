import { ANCHOR_PREFIX_LENGTH } from "@airgrant/core";

/**
 * The first ANCHOR_PREFIX_LENGTH bytes of every signer log entry's hash, by
 * sequence number, in one growing byte array: 8 bytes an entry, so a
 * million-entry signer log costs 8 MB. This is what a grant's anchor
 * (docs/grant-format.md: the signer log's sequence number and head hash
 * prefix when the grant was minted) is checked against.
 */
export class SignerChainIndex {
  private bytes = Buffer.alloc(ANCHOR_PREFIX_LENGTH * 1024);
  private count = 0;

  /** Record entry `seq`'s hash; entries come in order, 1, 2, 3, … */
  add(seq: number, hash: string): void {
    if (seq !== this.count + 1) throw new Error(`signer chain index: entry ${seq} after ${this.count}`);
    const offset = this.count * ANCHOR_PREFIX_LENGTH;
    if (offset + ANCHOR_PREFIX_LENGTH > this.bytes.length) {
      const grown = Buffer.alloc(this.bytes.length * 2);
      this.bytes.copy(grown);
      this.bytes = grown;
    }
    this.bytes.write(hash.slice(0, ANCHOR_PREFIX_LENGTH * 2), offset, "hex");
    this.count = seq;
  }

  /** The last sequence number recorded (0 for none). */
  get head(): number {
    return this.count;
  }

  /** The hash prefix of entry `seq`, as lower-case hex, or undefined when the log has no such entry. */
  prefixAt(seq: number): string | undefined {
    if (!Number.isSafeInteger(seq) || seq < 1 || seq > this.count) return undefined;
    const offset = (seq - 1) * ANCHOR_PREFIX_LENGTH;
    return this.bytes.toString("hex", offset, offset + ANCHOR_PREFIX_LENGTH);
  }
}
