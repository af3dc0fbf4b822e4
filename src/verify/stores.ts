/**
 * The injected stores (replay cache, usage counter), called so that a failure or an answer
 * out of shape denies with the store's code: never a throw, never an allow.
 *
 * @module
 */
import { fail, MandateError, type MandateErrorCode } from '../errors.js'

/** An injected store, as {@link dependency} names it in denials. */
export interface StoreTitle {
  readonly code: MandateErrorCode
  readonly what: string
  readonly hint: string
}

export const REPLAY_STORE: StoreTitle = {
  code: 'ERR_REPLAY_UNAVAILABLE',
  what: 'the replay store',
  hint: 'replay protection needs its store; denied until it answers (fail closed)',
}

export const USAGE_STORE: StoreTitle = {
  code: 'ERR_COUNTER_UNAVAILABLE',
  what: 'the usage counter',
  hint: 'usage limits need a live counter; the request is denied until it is reachable (fail closed)',
}

/**
 * Call an injected store. A MandateError it throws stands (it knows what went wrong, e.g. "no
 * service configured"); any other failure, and any answer `valid` refuses, becomes the store's
 * code: the request is denied, never thrown, never allowed on a garbled answer.
 */
export async function dependency<T>(call: () => unknown, valid: (value: unknown) => value is T, store: StoreTitle): Promise<T> {
  let value: unknown
  try {
    value = await call()
  } catch (cause) {
    if (cause instanceof MandateError) throw cause
    fail(store.code, `${store.what} could not be reached`, { cause, hint: store.hint })
  }
  if (!valid(value)) fail(store.code, `${store.what} gave an unusable answer`, { hint: store.hint })
  return value
}

export const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean'

export const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0
