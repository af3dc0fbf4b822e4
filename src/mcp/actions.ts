/**
 * Which action a tool call is, and which tools a mandate can ever allow.
 *
 * An MCP tool `T` of a server is the action `mcp:<server>:<T>` (spec §6.1 action grammar),
 * `<server>` being the guarded server's name made into one action segment. A mandate then
 * says `mcp:github:*` (every tool of one server), `mcp:*:read_file` (one tool anywhere) or
 * `mcp:github:create_issue` (one tool), and `deny`, `approval` and `where` caveats name tools
 * the same way.
 *
 * A tool name is used as it is, never rewritten: two tools must never share an action, or a
 * mandate granting one would grant the other. So a tool whose name is not an action segment
 * (upper case, `/`, a space…) has no action until it is mapped explicitly; until then it is
 * hidden and every call to it is denied.
 *
 * @module
 */
import { coversAction, isActionName, matchAction } from '../caveats/action.js'
import type { UnverifiedMandate } from '../token/mandate.js'

/**
 * How tools become actions: a record from tool name to action (tools it does not name keep
 * the default), or a function returning the action, or `undefined` for "no action" (the tool
 * is then hidden and denied).
 *
 * @example
 * ```ts
 * const byName: ToolActions = { 'list-issues': 'github:issues:read', createIssue: 'github:issues:write' }
 * const byRule: ToolActions = (tool) => (tool.startsWith('get_') ? `files:read:${tool.slice(4)}` : undefined)
 * ```
 */
export type ToolActions = Readonly<Record<string, string>> | ((tool: string) => string | undefined)

const SEGMENT = /^[a-z0-9_.-]+$/

/**
 * A server's name as one action segment: lower case, and every run of characters an action
 * cannot hold (`/`, `@`, spaces…) as one `-`. `mcp-servers/everything` is `mcp-servers-everything`,
 * `GitHub` is `github`. Only the default prefix is made this way; tool names never are.
 *
 * @example
 * ```ts
 * serverSegment('mcp-servers/everything') // 'mcp-servers-everything'
 * serverSegment('GitHub MCP')             // 'github-mcp'
 * ```
 */
export function serverSegment(name: string): string {
  const segment = name
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
  return segment === '' ? 'server' : segment.slice(0, 128)
}

/**
 * The default action prefix of a server: `mcp:<server segment>`.
 *
 * @example
 * ```ts
 * defaultActionPrefix('mcp-servers/everything') // 'mcp:mcp-servers-everything'
 * ```
 */
export function defaultActionPrefix(server: string): string {
  return `mcp:${serverSegment(server)}`
}

/**
 * The action of tool `tool`: the mapping's answer when it names the tool, else
 * `<prefix>:<tool>` when the tool's name is one action segment, else `undefined` (no action:
 * hidden and denied). A mapping's answer that is not an action is no action either, and so is a
 * default that the record maps another tool to (two tools share an action only when the record
 * names both).
 *
 * @example
 * ```ts
 * toolAction('echo', 'mcp:everything')                        // 'mcp:everything:echo'
 * toolAction('getWeather', 'mcp:weather')                     // undefined: not an action segment
 * toolAction('getWeather', 'mcp:weather', { getWeather: 'weather:read' }) // 'weather:read'
 * toolAction('forecast', 'mcp:weather', { getWeather: 'mcp:weather:forecast' }) // undefined: getWeather's action
 * ```
 */
export function toolAction(tool: string, prefix: string, map?: ToolActions): string | undefined {
  if (typeof tool !== 'string') return undefined
  let mapped: string | undefined
  if (typeof map === 'function') mapped = map(tool)
  else if (map !== undefined && Object.hasOwn(map, tool)) mapped = map[tool]
  if (mapped !== undefined) return typeof mapped === 'string' && isActionName(mapped) ? mapped : undefined
  // A function that answers undefined leaves the tool without an action: it decided.
  if (typeof map === 'function') return undefined
  if (!SEGMENT.test(tool) || tool.length > 128) return undefined
  const action = `${prefix}:${tool}`
  // A default that is an action the record gives another tool would let this tool borrow that
  // one's rights (a mandate granting the mapped tool would grant it too): it has none instead.
  if (map !== undefined && Object.values(map).includes(action)) return undefined
  return isActionName(action) ? action : undefined
}

/** Check an action prefix given by a caller: one or more action segments. */
export function checkActionPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !isActionName(prefix)) {
    throw new TypeError(`"actionPrefix" expected one or more action segments such as mcp:github, got ${JSON.stringify(prefix)}`)
  }
  return prefix
}

/**
 * Can the mandate's chain ever allow `action` at `audience`? False when a block's `actions`
 * caveat matches no pattern to it, a `deny` caveat covers it, or an `audience` caveat leaves
 * `audience` out — or when any caveat is malformed or of a reserved type, since the verifier
 * then denies everything. With `namesResource` false (a guard that computes no resource for a
 * call, as `mandate mcp`), a `resources` caveat hides every action too: an invocation naming
 * no resource never passes it. The other caveats (time, uses, approvals, arguments,
 * revocations) depend on the moment or the call, so they never hide an action here: the
 * verifier decides them per call.
 *
 * @example
 * ```ts
 * canEverAllow(grant, 'mcp:everything:echo', 'everything') // true when every block's actions allow it
 * ```
 */
export function canEverAllow(mandate: UnverifiedMandate, action: string, audience?: string, namesResource = true): boolean {
  if (!isActionName(action)) return false
  for (const block of mandate.blocks) {
    for (const caveat of block.caveats) {
      if (caveat.type === 'resources' && !namesResource) return false
      if (caveat.type === 'actions' && !caveat.patterns.some((p) => matchAction(p, action))) return false
      if (caveat.type === 'deny' && caveat.patterns.some((p) => coversAction(p, action))) return false
      if (caveat.type === 'audience' && audience !== undefined && !caveat.names.includes(audience)) return false
      // A malformed caveat, or one of a reserved type, denies every request (spec §7 step 9a).
      if (caveat.type === 'invalid' || caveat.type === 'unknown') return false
    }
  }
  return true
}
