/** Phase: step 6, the request (src/verify/request.ts). */
import { describe, expect, it } from 'vitest'
import { requestDifference, resolveRequest } from '../../../src/verify/request.js'
import { thrownCode } from '../../helpers/fixtures.js'

const signed = { action: 'email:send', resource: 'inbox/1', args: { to: 'bob' }, intent: 'reply' }

describe('resolveRequest', () => {
  it('takes a bare mandate request, absent args as {}', () => {
    expect(resolveRequest({ action: 'email:read' }, undefined, undefined)).toEqual({ action: 'email:read', args: {} })
  })

  it('refuses a bare request that is missing or malformed', () => {
    expect(thrownCode(() => resolveRequest(undefined, undefined, undefined))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => resolveRequest({ action: 'Email:Read' }, undefined, undefined))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => resolveRequest({ action: 'a', resource: '../x' }, undefined, undefined))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => resolveRequest({ action: 'a', args: null as never }, undefined, undefined))).toBe('ERR_REQUEST_INVALID')
    expect(thrownCode(() => resolveRequest({ action: 'a', args: [] as never }, undefined, undefined))).toBe('ERR_REQUEST_INVALID')
  })
})

describe('requestDifference', () => {
  it('names the first field that differs from what the invocation signs', () => {
    expect(requestDifference({ ...signed }, signed)).toBeUndefined()
    expect(requestDifference({ action: 'email:send', resource: 'inbox/1', args: { to: 'bob' } }, signed)).toBeUndefined()
    expect(requestDifference({ ...signed, action: 'email:read' }, signed)).toBe('action')
    expect(requestDifference({ ...signed, resource: undefined }, signed)).toBe('resource')
    expect(requestDifference({ ...signed, args: { to: 'eve' } }, signed)).toBe('args')
    expect(requestDifference({ ...signed, intent: 'spam' }, signed)).toBe('intent')
    expect(requestDifference(null, signed)).toBe('request (not an object)')
  })

  it('counts absent args as the empty object', () => {
    const bare = { action: 'a', args: {} }
    expect(requestDifference({ action: 'a' }, bare)).toBeUndefined()
    expect(requestDifference({ action: 'a', args: {} }, bare)).toBeUndefined()
    expect(requestDifference({ action: 'a', args: { x: 1n } }, bare)).toBe('args')
  })
})
