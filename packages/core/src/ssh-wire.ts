import { AirgrantError } from "./airgrant-error.js";

/**
 * The SSH wire encoding (RFC 4251 section 5): uint32, uint64, string (a
 * uint32 length then bytes), mpint (a string holding a two's-complement
 * big-endian integer, minimal, with a leading zero byte when the top bit
 * would otherwise be set).
 */
export class SshWriter {
  private readonly chunks: Uint8Array[] = [];

  uint32(value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value);
    this.chunks.push(b);
    return this;
  }

  uint64(value: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, value);
    this.chunks.push(b);
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.chunks.push(bytes);
    return this;
  }

  string(value: Uint8Array | string): this {
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
    return this.uint32(bytes.length).raw(bytes);
  }

  /** A non-negative integer given as unsigned big-endian bytes. */
  mpint(unsigned: Uint8Array): this {
    let start = 0;
    while (start < unsigned.length && unsigned[start] === 0) start++;
    const digits = unsigned.subarray(start);
    if (digits.length === 0) return this.uint32(0);
    const pad = ((digits[0] as number) & 0x80) !== 0;
    this.uint32(digits.length + (pad ? 1 : 0));
    if (pad) this.raw(new Uint8Array(1));
    return this.raw(digits);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}

export class SshReader {
  private offset = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly what: string,
  ) {}

  private take(n: number): Uint8Array {
    if (n > this.data.length - this.offset) {
      throw new AirgrantError("malformed-ssh-key", `${this.what} is truncated`);
    }
    const out = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  uint32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }

  uint64(): bigint {
    const b = this.take(8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
  }

  string(): Uint8Array {
    return this.take(this.uint32());
  }

  text(): string {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(this.string());
    } catch (err) {
      if (err instanceof AirgrantError) throw err;
      throw new AirgrantError("malformed-ssh-key", `${this.what} holds a string that is not UTF-8`);
    }
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.data.length - this.offset;
  }

  /** Every string in a buffer of packed strings (principals, option lists). */
  static strings(data: Uint8Array, what: string): Uint8Array[] {
    const reader = new SshReader(data, what);
    const out: Uint8Array[] = [];
    while (reader.remaining > 0) out.push(reader.string());
    return out;
  }
}
