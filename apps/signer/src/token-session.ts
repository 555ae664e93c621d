import { hash, randomBytes } from "node:crypto";
import { AirgrantError, sleepMs, toLowS } from "@airgrant/core";
import pkcs11js from "pkcs11js";
import { ED25519_EC_PARAMS_NAME, ED25519_EC_PARAMS_OID, type IssuerKeyAlg, P256_EC_PARAMS } from "./issuer-key-alg.js";
import { pkcs11ReturnValue, toAirgrantError } from "./pkcs11-error.js";
import { acquirePkcs11Library, pkcs11LibraryUsers, releasePkcs11Library } from "./pkcs11-library.js";
import {
  CKK_EC_EDWARDS,
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  CKM_EDDSA,
  CKR_CURVE_NOT_SUPPORTED,
} from "./pkcs11-v3-constants.js";
import { spkiFromEcPoint } from "./subject-public-key-info.js";

type Handle = pkcs11js.Handle;

export interface OpenTokenOptions {
  /** Path of the PKCS#11 library (see findPkcs11Module). */
  modulePath: string;
  /** CKA token label as set at initialisation (`softhsm2-util --label`, a YubiKey's "YubiKey PIV #serial"). */
  tokenLabel: string;
  /** The user PIN. Kept in memory for context-specific logins; never logged or put in an error. */
  pin: string;
}

export interface IssuerKeyRequest {
  /** CKA_LABEL of the private key (the signer's default is "airgrant-issuer"). */
  label: string;
  alg: IssuerKeyAlg;
  /** Generate the key pair on the token when no private key has this label. */
  create: boolean;
}

export interface IssuerKeyInfo {
  label: string;
  alg: IssuerKeyAlg;
  /** DER SubjectPublicKeyInfo of the public key (RFC 5480 / RFC 8410). */
  publicKeySpki: Uint8Array;
  /** True when this call generated the key pair. */
  created: boolean;
}

/** A private key found by label, with what signing with it needs. */
interface SigningKey {
  handle: Handle;
  alg: IssuerKeyAlg;
  /** CKA_ALWAYS_AUTHENTICATE: the token wants the PIN again for each operation (YubiKey PIV slot 9c). */
  alwaysAuthenticate: boolean;
}

/** PKCS#11 names of the mechanisms we use, for error messages. */
const MECHANISM_NAMES: ReadonlyMap<number, string> = new Map([
  [pkcs11js.CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN"],
  [pkcs11js.CKM_ECDSA, "CKM_ECDSA"],
  [CKM_EC_EDWARDS_KEY_PAIR_GEN, "CKM_EC_EDWARDS_KEY_PAIR_GEN"],
  [CKM_EDDSA, "CKM_EDDSA"],
  [pkcs11js.CKM_AES_ECB, "CKM_AES_ECB"],
]);

/** How each algorithm generates and signs (PKCS#11 v2.40 §2.3, v3.0 §2.3.14). */
const ALG_MECHANISMS: Readonly<Record<IssuerKeyAlg, { generate: number; sign: number }>> = {
  "ecdsa-p256": { generate: pkcs11js.CKM_EC_KEY_PAIR_GEN, sign: pkcs11js.CKM_ECDSA },
  ed25519: { generate: CKM_EC_EDWARDS_KEY_PAIR_GEN, sign: CKM_EDDSA },
};

/** CKA_APPLICATION of the data objects the signer keeps on the token (docs/signer.md, "OTP counters"). */
export const DATA_OBJECT_APPLICATION = "airgrant-signer";

/** Both ECDSA P-256 (r || s) and Ed25519 signatures are 64 bytes. */
const SIGNATURE_LENGTH = 64;
const AES_BLOCK_LENGTH = 16;

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** A copy as a plain Uint8Array, so no pkcs11js Buffer escapes this module. */
function toBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer);
}

/**
 * A logged-in read/write session on one token. Synchronous, like pkcs11js.
 * Close it when done: that logs out and, for the last session in the process,
 * finalises the module.
 */
export class TokenSession {
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly #pkcs11: pkcs11js.PKCS11;
  readonly #slot: Handle;
  readonly #session: Handle;
  #pin: string;
  #mechanisms: ReadonlySet<number> | undefined;
  readonly #signingKeys = new Map<string, SigningKey>();
  readonly #aesKeys = new Map<string, Handle>();
  #closed = false;

  /** Use openToken. */
  constructor(internal: {
    modulePath: string;
    tokenLabel: string;
    pkcs11: pkcs11js.PKCS11;
    slot: Handle;
    session: Handle;
    pin: string;
  }) {
    this.modulePath = internal.modulePath;
    this.tokenLabel = internal.tokenLabel;
    this.#pkcs11 = internal.pkcs11;
    this.#slot = internal.slot;
    this.#session = internal.session;
    this.#pin = internal.pin;
  }

  /** The mechanism types (CKM_*) the token offers. */
  mechanisms(): ReadonlySet<number> {
    this.#assertOpen();
    if (this.#mechanisms === undefined) {
      const list = this.#call("list the token's mechanisms", () => this.#pkcs11.C_GetMechanismList(this.#slot));
      this.#mechanisms = new Set(list);
    }
    return this.#mechanisms;
  }

  /** Whether the token can generate and sign with keys of `alg`. */
  supportsAlg(alg: IssuerKeyAlg): boolean {
    const { generate, sign } = ALG_MECHANISMS[alg];
    return this.mechanisms().has(generate) && this.mechanisms().has(sign);
  }

  /**
   * Finds the issuer key pair by the private key's label, or generates it on
   * the token when `create` is set: token object, private, sensitive, never
   * extractable. Throws `key-missing` when absent and not to be created.
   * Generation is not atomic across processes: callers that may race hold a
   * file lock around it.
   */
  findOrCreateIssuerKey(request: IssuerKeyRequest): IssuerKeyInfo {
    this.#assertOpen();
    const { label, alg } = request;
    const found = this.#findPrivateKey(label);
    this.#requireMechanism(ALG_MECHANISMS[alg].sign, `sign with ${alg} keys`);
    if (found !== undefined) {
      const key = this.#describePrivateKey(label, found);
      if (key.alg !== alg) {
        throw new AirgrantError(
          "bad-input",
          `the key "${label}" on token "${this.tokenLabel}" is ${key.alg}, not ${alg}; ask for ${key.alg} or use another key label`,
        );
      }
      this.#signingKeys.set(label, key);
      return { label, alg, publicKeySpki: this.#publicKeySpki(label, found, alg), created: false };
    }
    if (!request.create) {
      throw new AirgrantError(
        "key-missing",
        `no private key labelled "${label}" on token "${this.tokenLabel}"; run "airgrant-signer init" to generate it, or give the right key label`,
      );
    }
    this.#requireMechanism(ALG_MECHANISMS[alg].generate, `generate ${alg} keys`);
    const publicKey = this.#generateKeyPair(label, alg);
    return { label, alg, publicKeySpki: this.#readSpki(publicKey, alg, label), created: true };
  }

  /**
   * Signs `message` with the private key labelled `keyLabel`.
   * ECDSA P-256: SHA-256 here, CKM_ECDSA on the token over the digest, so
   * tokens without CKM_ECDSA_SHA256 (a YubiKey's PIV) work; the result is
   * r || s, 32 bytes each (IEEE P1363), with s made low (at most n/2), the
   * one form verifiers accept: tokens return either. Ed25519: CKM_EDDSA over the message
   * (PureEdDSA, RFC 8032), 64 bytes.
   */
  sign(keyLabel: string, message: Uint8Array): Uint8Array {
    this.#assertOpen();
    const action = `sign with key "${keyLabel}"`;
    const key = this.#withFreshHandle(
      action,
      () => this.#signingKey(keyLabel),
      () => this.#signingKeys.delete(keyLabel),
      (found) => {
        const mechanism = ALG_MECHANISMS[found.alg].sign;
        this.#requireMechanism(mechanism, `sign with ${found.alg} keys`);
        this.#pkcs11.C_SignInit(this.#session, { mechanism }, found.handle);
      },
    );
    if (key.alwaysAuthenticate) this.#loginForOperation(action);
    const input = key.alg === "ecdsa-p256" ? hash("sha256", message, "buffer") : Buffer.from(message);
    const signature = this.#call(action, () =>
      this.#pkcs11.C_Sign(this.#session, input, Buffer.alloc(SIGNATURE_LENGTH)),
    );
    if (signature.length !== SIGNATURE_LENGTH) {
      throw new AirgrantError(
        "internal",
        `the token returned a ${signature.length}-byte ${key.alg} signature; expected ${SIGNATURE_LENGTH}`,
      );
    }
    return key.alg === "ecdsa-p256" ? toLowS(toBytes(signature)) : toBytes(signature);
  }

  /**
   * Stores a 16-byte AES key (an officer's YubiKey OTP secret) on the token
   * under `label`: token object, private, sensitive, never extractable, usable
   * only to decrypt. Refuses a label already used by a secret key.
   */
  importAesSecret(label: string, key: Uint8Array): void {
    this.#assertOpen();
    if (key.length !== AES_BLOCK_LENGTH) {
      throw new AirgrantError("bad-input", `an AES-128 key is 16 bytes, not ${key.length}`);
    }
    this.#requireMechanism(pkcs11js.CKM_AES_ECB, "decrypt with AES keys");
    if (this.#findAesKey(label) !== undefined) {
      throw new AirgrantError(
        "bad-input",
        `a secret key labelled "${label}" is already on token "${this.tokenLabel}"; remove it first`,
      );
    }
    const value = Buffer.from(key);
    try {
      const handle = this.#call(`store AES key "${label}"`, () =>
        this.#pkcs11.C_CreateObject(this.#session, [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
          { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
          { type: pkcs11js.CKA_LABEL, value: label },
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_PRIVATE, value: true },
          { type: pkcs11js.CKA_SENSITIVE, value: true },
          { type: pkcs11js.CKA_EXTRACTABLE, value: false },
          { type: pkcs11js.CKA_DECRYPT, value: true },
          { type: pkcs11js.CKA_ENCRYPT, value: false },
          { type: pkcs11js.CKA_WRAP, value: false },
          { type: pkcs11js.CKA_UNWRAP, value: false },
          { type: pkcs11js.CKA_VALUE, value },
        ]),
      );
      this.#aesKeys.set(label, handle);
    } finally {
      value.fill(0);
    }
  }

  /** Decrypts one 16-byte block with the AES key labelled `label`, on the token (CKM_AES_ECB). */
  aesEcbDecrypt(label: string, block: Uint8Array): Uint8Array {
    this.#assertOpen();
    if (block.length !== AES_BLOCK_LENGTH) {
      throw new AirgrantError("bad-input", `an AES block is 16 bytes, not ${block.length}`);
    }
    const action = `decrypt with AES key "${label}"`;
    this.#withFreshHandle(
      action,
      () => this.#aesKey(label),
      () => this.#aesKeys.delete(label),
      (handle) => this.#pkcs11.C_DecryptInit(this.#session, { mechanism: pkcs11js.CKM_AES_ECB }, handle),
    );
    const plain = this.#call(action, () =>
      this.#pkcs11.C_Decrypt(this.#session, Buffer.from(block), Buffer.alloc(AES_BLOCK_LENGTH)),
    );
    return toBytes(plain);
  }

  /** Destroys every object (keys of any kind, certificates, data) labelled `label`; returns how many. */
  deleteObjects(label: string): number {
    this.#assertOpen();
    const handles = this.#findObjects([{ type: pkcs11js.CKA_LABEL, value: label }]);
    for (const handle of handles) {
      this.#call(`delete object "${label}"`, () => this.#pkcs11.C_DestroyObject(this.#session, handle));
    }
    this.#signingKeys.delete(label);
    this.#aesKeys.delete(label);
    return handles.length;
  }

  /** The values of the data objects (CKO_DATA) labelled `label`: none, one, or more after a crash in replaceDataObject. */
  readDataObjects(label: string): Uint8Array[] {
    this.#assertOpen();
    return this.#findDataObjects(label).map((handle) =>
      toBytes(this.#attribute(handle, pkcs11js.CKA_VALUE, `read data object "${label}"`)),
    );
  }

  /**
   * Makes `value` the value of the data object labelled `label`: a token
   * object, private (read and written only after login), of application
   * DATA_OBJECT_APPLICATION. Tokens keep a data object's value read-only
   * once made (SoftHSM2 does), so the new object is created first and the
   * old ones destroyed after it: a crash in between leaves both, never none.
   */
  replaceDataObject(label: string, value: Uint8Array): void {
    this.#assertOpen();
    const action = `write data object "${label}"`;
    const old = this.#findDataObjects(label);
    this.#call(action, () =>
      this.#pkcs11.C_CreateObject(this.#session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_APPLICATION, value: DATA_OBJECT_APPLICATION },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_VALUE, value: Buffer.from(value) },
      ]),
    );
    for (const handle of old) {
      this.#call(action, () => this.#pkcs11.C_DestroyObject(this.#session, handle));
    }
  }

  /** Logs out, closes the session and releases the module. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pin = "";
    this.#signingKeys.clear();
    this.#aesKeys.clear();
    try {
      // The login belongs to the whole process (PKCS#11 v2.40 §5.6): log out only
      // when no other TokenSession of this process still uses the module.
      if (pkcs11LibraryUsers(this.modulePath) === 1) this.#pkcs11.C_Logout(this.#session);
      this.#pkcs11.C_CloseSession(this.#session);
    } catch {
      // The token went away; finalising below still frees the module.
    } finally {
      releasePkcs11Library(this.modulePath);
    }
  }

  /**
   * Looks a key up (from the cache when it can) and starts an operation with
   * it. A handle cached before another process deleted and re-created the key
   * is invalid: forget it and look the key up once more.
   */
  #withFreshHandle<K>(action: string, lookUp: () => K, forget: () => void, init: (key: K) => void): K {
    const key = lookUp();
    try {
      init(key);
      return key;
    } catch (err) {
      const rv = pkcs11ReturnValue(err);
      if (rv !== pkcs11js.CKR_KEY_HANDLE_INVALID && rv !== pkcs11js.CKR_OBJECT_HANDLE_INVALID) {
        throw toAirgrantError(err, { action, tokenLabel: this.tokenLabel });
      }
    }
    forget();
    const fresh = lookUp();
    this.#call(action, () => init(fresh));
    return fresh;
  }

  #aesKey(label: string): Handle {
    const cached = this.#aesKeys.get(label);
    if (cached !== undefined) return cached;
    const handle = this.#findAesKey(label);
    if (handle === undefined) {
      throw new AirgrantError(
        "key-missing",
        `no AES key labelled "${label}" on token "${this.tokenLabel}"; enrol the officer again ("airgrant-signer officer add")`,
      );
    }
    this.#aesKeys.set(label, handle);
    return handle;
  }

  #assertOpen(): void {
    if (this.#closed) throw new AirgrantError("internal", "the token session is already closed");
  }

  /** Runs a pkcs11js call, turning its error into an AirgrantError that says what we were doing. */
  #call<T>(action: string, run: () => T): T {
    try {
      return run();
    } catch (err) {
      throw toAirgrantError(err, { action, tokenLabel: this.tokenLabel });
    }
  }

  #requireMechanism(mechanism: number, purpose: string): void {
    if (this.mechanisms().has(mechanism)) return;
    const name = MECHANISM_NAMES.get(mechanism) ?? `mechanism 0x${mechanism.toString(16)}`;
    throw new AirgrantError(
      "mechanism-unsupported",
      `token "${this.tokenLabel}" does not offer ${name}, needed to ${purpose}; choose another algorithm (--alg) or a token that has it`,
    );
  }

  #findObjects(template: pkcs11js.Template): Handle[] {
    return this.#call("search the token's objects", () => {
      this.#pkcs11.C_FindObjectsInit(this.#session, template);
      try {
        const handles: Handle[] = [];
        for (;;) {
          const batch = this.#pkcs11.C_FindObjects(this.#session, 32);
          if (batch.length === 0) return handles;
          handles.push(...batch);
        }
      } finally {
        this.#pkcs11.C_FindObjectsFinal(this.#session);
      }
    });
  }

  /** The one private key labelled `label`, undefined if none; several is an error. */
  #findPrivateKey(label: string): Handle | undefined {
    const handles = this.#findObjects([
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
    if (handles.length > 1) {
      throw new AirgrantError(
        "key-missing",
        `${handles.length} private keys are labelled "${label}" on token "${this.tokenLabel}", so none can be chosen; delete the extra ones with the token's tool`,
      );
    }
    return handles[0];
  }

  #findDataObjects(label: string): Handle[] {
    return this.#findObjects([
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
  }

  #findAesKey(label: string): Handle | undefined {
    const handles = this.#findObjects([
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
    return handles[0];
  }

  #attribute(handle: Handle, type: number, action: string): Buffer {
    const [result] = this.#call(action, () => this.#pkcs11.C_GetAttributeValue(this.#session, handle, [{ type }]));
    if (result === undefined)
      throw new AirgrantError("internal", `the token returned no attribute when asked to ${action}`);
    return result.value;
  }

  /** The algorithm of a private key, from CKA_KEY_TYPE and, for EC keys, the curve in CKA_EC_PARAMS. */
  #describePrivateKey(label: string, handle: Handle): SigningKey {
    const action = `read key "${label}"`;
    const keyType = this.#attribute(handle, pkcs11js.CKA_KEY_TYPE, action).readUIntLE(0, 4);
    let alg: IssuerKeyAlg | undefined;
    if (keyType === CKK_EC_EDWARDS) alg = "ed25519";
    else if (keyType === pkcs11js.CKK_EC) {
      const params = this.#attribute(handle, pkcs11js.CKA_EC_PARAMS, action);
      if (bytesEqual(params, P256_EC_PARAMS)) alg = "ecdsa-p256";
    }
    if (alg === undefined) {
      throw new AirgrantError(
        "bad-input",
        `the key "${label}" on token "${this.tokenLabel}" is neither ECDSA P-256 nor Ed25519; airgrant signs only with those`,
      );
    }
    return { handle, alg, alwaysAuthenticate: this.#alwaysAuthenticate(handle) };
  }

  /** CKA_ALWAYS_AUTHENTICATE, taken as false by tokens that do not know the attribute. */
  #alwaysAuthenticate(handle: Handle): boolean {
    try {
      const [result] = this.#pkcs11.C_GetAttributeValue(this.#session, handle, [
        { type: pkcs11js.CKA_ALWAYS_AUTHENTICATE },
      ]);
      return result !== undefined && result.value.length > 0 && result.value[0] !== 0;
    } catch {
      return false;
    }
  }

  #signingKey(label: string): SigningKey {
    const cached = this.#signingKeys.get(label);
    if (cached !== undefined) return cached;
    const handle = this.#findPrivateKey(label);
    if (handle === undefined) {
      throw new AirgrantError(
        "key-missing",
        `no private key labelled "${label}" on token "${this.tokenLabel}"; run "airgrant-signer init" first, or give the right key label`,
      );
    }
    const key = this.#describePrivateKey(label, handle);
    this.#signingKeys.set(label, key);
    return key;
  }

  /**
   * The public key that goes with a private key: the public key object with
   * the same CKA_ID (ykcs11 labels the two halves differently: "Private key
   * for Digital Signature" / "Public key for Digital Signature"), else the one
   * with the same label.
   */
  #publicKeySpki(label: string, privateKey: Handle, alg: IssuerKeyAlg): Uint8Array {
    const id = this.#attribute(privateKey, pkcs11js.CKA_ID, `read key "${label}"`);
    const byId =
      id.length > 0
        ? this.#findObjects([
            { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
            { type: pkcs11js.CKA_ID, value: id },
          ])
        : [];
    const candidates =
      byId.length > 0
        ? byId
        : this.#findObjects([
            { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
            { type: pkcs11js.CKA_LABEL, value: label },
          ]);
    const publicKey = candidates[0];
    if (publicKey === undefined) {
      throw new AirgrantError(
        "key-missing",
        `the private key "${label}" on token "${this.tokenLabel}" has no public key object beside it; import the public key on the token or generate a new key pair`,
      );
    }
    return this.#readSpki(publicKey, alg, label);
  }

  #readSpki(publicKey: Handle, alg: IssuerKeyAlg, label: string): Uint8Array {
    const ecPoint = this.#attribute(publicKey, pkcs11js.CKA_EC_POINT, `read the public key of "${label}"`);
    return spkiFromEcPoint(alg, ecPoint);
  }

  /** Generates the key pair on the token and returns the public key's handle. */
  #generateKeyPair(label: string, alg: IssuerKeyAlg): Handle {
    // CKA_ID ties the two halves together, as PKCS#11 tools expect (v2.40 §4.7).
    const id = randomBytes(16);
    const keyType = alg === "ed25519" ? CKK_EC_EDWARDS : pkcs11js.CKK_EC;
    const privateTemplate: pkcs11js.Template = [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: keyType },
      { type: pkcs11js.CKA_LABEL, value: label },
      { type: pkcs11js.CKA_ID, value: id },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_SIGN, value: true },
      { type: pkcs11js.CKA_DERIVE, value: false },
    ];
    const publicTemplate = (ecParams: Uint8Array): pkcs11js.Template => [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: keyType },
      { type: pkcs11js.CKA_LABEL, value: label },
      { type: pkcs11js.CKA_ID, value: id },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_VERIFY, value: true },
      { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from(ecParams) },
    ];
    const mechanism = { mechanism: ALG_MECHANISMS[alg].generate };
    const generate = (ecParams: Uint8Array) =>
      this.#pkcs11.C_GenerateKeyPair(this.#session, mechanism, publicTemplate(ecParams), privateTemplate).publicKey;
    const action = `generate ${alg} key "${label}"`;
    if (alg === "ecdsa-p256") return this.#call(action, () => generate(P256_EC_PARAMS));
    try {
      return generate(ED25519_EC_PARAMS_OID);
    } catch (err) {
      // Tokens written to PKCS#11 v3.0 as first published know Ed25519 only by
      // its curve name; try that before giving up.
      const rv = pkcs11ReturnValue(err);
      const paramsRefused =
        rv === pkcs11js.CKR_ATTRIBUTE_VALUE_INVALID ||
        rv === pkcs11js.CKR_DOMAIN_PARAMS_INVALID ||
        rv === pkcs11js.CKR_TEMPLATE_INCONSISTENT ||
        rv === CKR_CURVE_NOT_SUPPORTED;
      if (!paramsRefused) throw toAirgrantError(err, { action, tokenLabel: this.tokenLabel });
      return this.#call(action, () => generate(ED25519_EC_PARAMS_NAME));
    }
  }

  /**
   * The context-specific login that a key with CKA_ALWAYS_AUTHENTICATE needs
   * between C_SignInit and C_Sign (PKCS#11 v2.40 §5.6, C_Login with
   * CKU_CONTEXT_SPECIFIC), with the session's PIN.
   */
  #loginForOperation(action: string): void {
    try {
      this.#pkcs11.C_Login(this.#session, pkcs11js.CKU_CONTEXT_SPECIFIC, this.#pin);
    } catch (err) {
      // End the pending operation: a C_Sign that fails terminates it (v2.40 §5.12).
      try {
        this.#pkcs11.C_Sign(this.#session, Buffer.alloc(32), Buffer.alloc(SIGNATURE_LENGTH));
      } catch {
        // Expected to fail (not authenticated); it is only here to end the operation.
      }
      throw toAirgrantError(err, { action, tokenLabel: this.tokenLabel });
    }
  }
}

function trimLabel(label: string): string {
  return label.replace(/[ \0]+$/, "");
}

/** The slot holding the initialised token labelled `tokenLabel`, or `token-not-found` listing what is there. */
function findSlot(pkcs11: pkcs11js.PKCS11, modulePath: string, tokenLabel: string): Handle {
  const slots = pkcs11.C_GetSlotList(true);
  const seen: string[] = [];
  for (const slot of slots) {
    const info = pkcs11.C_GetTokenInfo(slot);
    if ((info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0) continue;
    const label = trimLabel(info.label);
    if (label === tokenLabel) {
      if ((info.flags & pkcs11js.CKF_USER_PIN_LOCKED) !== 0) {
        throw new AirgrantError(
          "pin-locked",
          `the user PIN of token "${tokenLabel}" is locked after too many wrong tries; the security officer must unblock it (SO PIN / PUK)`,
        );
      }
      return slot;
    }
    seen.push(`"${label}"`);
  }
  const there = seen.length === 0 ? "it shows no initialised token" : `tokens there: ${seen.join(", ")}`;
  throw new AirgrantError(
    "token-not-found",
    `no token labelled "${tokenLabel}" in PKCS#11 module ${modulePath} (${there}); insert the token, pass --token with its label, or for SoftHSM2 check SOFTHSM2_CONF`,
  );
}

const OPEN_ATTEMPTS = 5;

/**
 * Loads the module, finds the token by label, opens a read/write session and
 * logs in as the user. Throws `module-not-found`, `token-not-found`,
 * `wrong-pin` or `pin-locked`, each saying what to do.
 *
 * Tried again a few times when the token reads as broken (CKR_GENERAL_ERROR)
 * or absent (`token-not-found`): SoftHSM2's file object store rewrites the
 * token's file at every login, and another process reading it at that
 * moment takes the token as corrupt or skips it ("Token integrity check
 * failed", softhsm/SoftHSMv2#757). Nothing else is tried twice: above all
 * not a wrong PIN, which the token counts.
 */
export function openToken(options: OpenTokenOptions): TokenSession {
  for (let attempt = 1; ; attempt++) {
    try {
      return openTokenOnce(options);
    } catch (err) {
      if (attempt >= OPEN_ATTEMPTS || !mayBeTokenRewrite(err)) throw err;
      sleepMs(20 * attempt + Math.floor(Math.random() * 20));
    }
  }
}

function mayBeTokenRewrite(err: unknown): boolean {
  if (!(err instanceof AirgrantError)) return false;
  return err.code === "token-not-found" || pkcs11ReturnValue(err.cause) === pkcs11js.CKR_GENERAL_ERROR;
}

function openTokenOnce(options: OpenTokenOptions): TokenSession {
  const { modulePath, tokenLabel, pin } = options;
  const pkcs11 = acquirePkcs11Library(modulePath);
  let session: Handle | undefined;
  try {
    const slot = findSlot(pkcs11, modulePath, tokenLabel);
    session = pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      pkcs11.C_Login(session, pkcs11js.CKU_USER, pin);
    } catch (err) {
      // PKCS#11 logins are per application: another open session already logged us in.
      if (pkcs11ReturnValue(err) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw err;
    }
    return new TokenSession({ modulePath, tokenLabel, pkcs11, slot, session, pin });
  } catch (err) {
    if (session !== undefined) {
      try {
        pkcs11.C_CloseSession(session);
      } catch {
        // Closing is best effort; the error that matters is the one below.
      }
    }
    releasePkcs11Library(modulePath);
    throw toAirgrantError(err, { action: `open token "${tokenLabel}"`, tokenLabel });
  }
}
