/**
 * PKCS#11 v3.0 identifiers that pkcs11js (written against v2.40) does not
 * export. Values from the OASIS PKCS#11 v3.0 headers (pkcs11t.h).
 */

/** Key type of Ed25519/Ed448 keys (PKCS#11 v3.0 §2.3.6, "Edwards Elliptic curve"). */
export const CKK_EC_EDWARDS = 0x40;
/** Edwards-curve key pair generation (PKCS#11 v3.0 §2.3.7). */
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
/** PureEdDSA signing over the whole message (PKCS#11 v3.0 §2.3.14). */
export const CKM_EDDSA = 0x1057;
/** Returned by tokens that do not know the requested curve (PKCS#11 v2.40 §5.1.6). */
export const CKR_CURVE_NOT_SUPPORTED = 0x140;
