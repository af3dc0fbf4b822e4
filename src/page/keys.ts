/**
 * The approver's key in the browser. It is one of:
 *
 * - **a key file**: the PKCS#8 PEM that `mandate keygen -o alice.pem` writes, read from a file
 *   input with the library's own `importSecretKeyPem`, kept in this page's memory only (gone on
 *   reload), never stored and never sent;
 * - **a browser key**: an Ed25519 key made by WebCrypto as non-extractable (its secret cannot
 *   be read back, not even by this page) and kept in IndexedDB for this origin, so that it is
 *   there on the next visit. Its did:key is shown, to be registered as an approver;
 * - where WebCrypto has no Ed25519 (an older browser, or a page not in a secure context), a
 *   browser key made by the library's pure-JS backend (noble), kept as bytes in IndexedDB: the
 *   page says so, as scripts of this origin could read it.
 *
 * Each signs requests exactly as the library's `signRequest` does (`signRequestWith` for the
 * WebCrypto key: the same headers, byte for byte) and approvals as `approve` does.
 *
 * @module
 */
import { type SignableRequest, signRequest, signRequestWith } from '../crypto/http-signature.js'
import { generateKeyPair, importSecretKeyPem, type KeyPair, keyPairFromSecret, toDidKey } from '../crypto/keys.js'
import type { Ed25519Signer } from '../crypto/signer.js'
import { approve, approveWith, type UnverifiedApproval } from '../token/approval.js'
import type { UnverifiedInvocation } from '../token/invocation.js'

/** Where the key came from. */
export type KeySource = 'file' | 'webcrypto' | 'stored-bytes'

/** The approver's key, as the page uses it: it signs, it never shows its secret. */
export interface ApproverKey {
  readonly did: string
  readonly source: KeySource
  /** A file's name, for `file`. */
  readonly label?: string
  /** The headers that sign `request` (RFC 9421, the `mandate` profile), `created` at that time (Unix seconds). */
  sign(request: SignableRequest, created: number): Promise<Record<string, string>>
  /** An approval of `invocation` by this key, issued at `now` (Unix seconds). */
  approve(invocation: UnverifiedInvocation, now: number): Promise<UnverifiedApproval>
}

/** A key pair held in memory: the library's synchronous signing, as the CLI's. */
function fromPair(pair: KeyPair, source: KeySource, label?: string): ApproverKey {
  return {
    did: toDidKey(pair.publicKey),
    source,
    ...(label === undefined ? {} : { label }),
    sign: async (request, created) => signRequest(request, pair, { created }),
    approve: async (invocation, now) => approve({ approver: pair, invocation, now }),
  }
}

/** A key that signs without showing its secret. */
function fromSigner(signer: Ed25519Signer, source: KeySource): ApproverKey {
  return {
    did: toDidKey(signer.publicKey),
    source,
    sign: (request, created) => signRequestWith(request, signer, { created }),
    approve: (invocation, now) => approveWith({ approver: signer, invocation, now }),
  }
}

/** The largest key file read: a PEM key is about 120 bytes. */
const MAX_PEM = 16 * 1024

/**
 * The key of a PKCS#8 PEM file's text (`mandate keygen`, `openssl genpkey -algorithm ed25519`).
 * Throws a `MandateError` (`ERR_KEY_FORMAT`) for anything else.
 */
export function keyFromPem(text: string, label: string): ApproverKey {
  if (text.length > MAX_PEM) throw new RangeError('this file is too large to be a key file')
  return fromPair(importSecretKeyPem(text), 'file', label)
}

// ---- the browser key, in IndexedDB --------------------------------------------------------

const DB = 'mandate-approvals'
const STORE = 'keys'
const SLOT = 'approver'

/** What IndexedDB holds for the browser key. */
type StoredKey =
  | { readonly kind: 'webcrypto'; readonly privateKey: CryptoKey; readonly publicKey: Uint8Array; readonly createdAt: number }
  | { readonly kind: 'bytes'; readonly secretKey: Uint8Array; readonly createdAt: number }

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error ?? new Error('IndexedDB failed'))
  })
}

async function database(): Promise<IDBDatabase> {
  if (typeof indexedDB === 'undefined') throw new Error('this browser has no IndexedDB: a key cannot be kept here')
  const open = indexedDB.open(DB, 1)
  open.onupgradeneeded = () => open.result.createObjectStore(STORE)
  return request(open)
}

async function withStore<T>(mode: IDBTransactionMode, f: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await database()
  try {
    const tx = db.transaction(STORE, mode)
    const result = await request(f(tx.objectStore(STORE)))
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve()
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB failed'))
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
    })
    return result
  } finally {
    db.close()
  }
}

function webCryptoSigner(privateKey: CryptoKey, publicKey: Uint8Array): Ed25519Signer {
  return {
    publicKey,
    sign: async (message) => new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, privateKey, message as Uint8Array<ArrayBuffer>)),
  }
}

function fromStored(stored: StoredKey): ApproverKey {
  if (stored.kind === 'webcrypto') return fromSigner(webCryptoSigner(stored.privateKey, stored.publicKey), 'webcrypto')
  return fromPair(keyPairFromSecret(stored.secretKey), 'stored-bytes')
}

/** The browser key kept in IndexedDB, if there is one. */
export async function loadBrowserKey(): Promise<ApproverKey | undefined> {
  const stored = (await withStore('readonly', (s) => s.get(SLOT))) as StoredKey | undefined
  return stored === undefined ? undefined : fromStored(stored)
}

/**
 * Make a new browser key and keep it in IndexedDB (replacing any other): a non-extractable
 * WebCrypto Ed25519 key, or the pure-JS fallback where WebCrypto lacks Ed25519.
 */
export async function createBrowserKey(): Promise<ApproverKey> {
  let stored: StoredKey
  try {
    if (!globalThis.crypto?.subtle) throw new Error('no WebCrypto here (not a secure context?)')
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair
    const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
    stored = { kind: 'webcrypto', privateKey: pair.privateKey, publicKey, createdAt: Date.now() }
    // A first signature, checked by the library against the public key: a browser whose
    // Ed25519 is broken falls back rather than failing later.
    await fromStored(stored).sign({ method: 'GET', url: 'https://check.invalid/' }, Math.floor(Date.now() / 1000))
  } catch {
    stored = { kind: 'bytes', secretKey: generateKeyPair().secretKey, createdAt: Date.now() }
  }
  await withStore('readwrite', (s) => s.put(stored, SLOT))
  return fromStored(stored)
}

/** Delete the browser key from IndexedDB. */
export async function forgetBrowserKey(): Promise<void> {
  await withStore('readwrite', (s) => s.delete(SLOT))
}
