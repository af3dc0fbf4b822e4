/**
 * The layers only point down (README "Architecture"):
 *
 *     errors.ts, internal/  →  cbor  →  crypto  →  caveats  →  token  →  usage, revocation, inbox
 *       →  verify  →  service, http, mcp, page  →  cli  →  the entry files (src/*.ts)
 *
 * `page/` is the approval page's browser code (bundled into dist/page/ by `npm run build`): a
 * client of the service beside the other doors, using inbox, token and crypto below it; the
 * service serves its built files and never imports it, and nothing imports it.
 * A file may import from its own folder and from any layer below its own, never from a
 * layer above nor from a sibling folder of the same layer (usage, revocation and inbox
 * stay independent, as do service, http and mcp). errors.ts and internal/ are the shared helpers at the bottom: they import
 * only each other. Every `import … from`, `export … from`, `import '…'` and `import('…')`
 * with a relative specifier is checked; packages are not layers.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const SRC = resolve(import.meta.dirname, '../src')

/** Each layer's folders, bottom first. `.` is a file directly in src/. */
const ORDER: readonly (readonly string[])[] = [
  ['errors.ts', 'internal'],
  ['cbor'],
  ['crypto'],
  ['caveats'],
  ['token'],
  ['usage', 'revocation', 'inbox'],
  ['verify'],
  ['service', 'http', 'mcp', 'page'],
  ['cli'],
  ['.'],
]

/** The unit of a path inside src/: its top folder, or `errors.ts`, or `.` for another top-level file. */
function unitOf(path: string): string {
  const [head, ...rest] = relative(SRC, path).split(/[\\/]/)
  if (rest.length > 0) return head as string
  return head === 'errors.ts' ? 'errors.ts' : '.'
}

function rankOf(unit: string): number {
  return ORDER.findIndex((layer) => layer.includes(unit))
}

/**
 * The relative specifiers a source text imports or re-exports, dynamic imports included:
 * read by TypeScript's own pre-processor, so comments and strings (a glob like 'mail/**' holds
 * a comment opener) never hide or invent an import.
 */
function specifiers(text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true)
  return importedFiles.map((f) => f.fileName).filter((s) => s.startsWith('.'))
}

/** Why `file` may not import `specifier`, or undefined when it may. */
function violation(file: string, specifier: string): string | undefined {
  const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts')
  if (!target.startsWith(SRC)) return `${specifier} leaves src/`
  const from = unitOf(file)
  const to = unitOf(target)
  const a = rankOf(from)
  const b = rankOf(to)
  if (a < 0) return `${from}/ is in no layer: add it to the order (README "Architecture", test/layers.test.ts)`
  if (b < 0) return `${to}/ is in no layer: add it to the order (README "Architecture", test/layers.test.ts)`
  if (from === to || b < a || (a === 0 && b === 0)) return undefined
  return b > a ? `${from} imports ${to}, a layer above it` : `${from} imports ${to}, a sibling of the same layer`
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sources(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

describe('layers', () => {
  it('no import in src/ points up the order', () => {
    const found = sources(SRC).flatMap((file) =>
      specifiers(readFileSync(file, 'utf8')).flatMap((s) => {
        const why = violation(file, s)
        return why === undefined ? [] : [`src/${relative(SRC, file)}: import '${s}' (${why})`]
      }),
    )
    expect(found).toEqual([])
  })

  it('every folder of src/ has its place in the order', () => {
    const units = new Set(sources(SRC).map(unitOf))
    expect([...units].filter((u) => rankOf(u) < 0)).toEqual([])
  })

  it('reads every form of import, and none in comments', () => {
    const text = [
      "import { a } from '../token/a.js'",
      "import type {\n  B,\n  C,\n} from '../verify/b.js'",
      "export { d } from './d.js'",
      "export * from '../cbor/e.js'",
      "import './use-node.js'",
      "const f = await import('../service/f.js')",
      "import { g } from 'hono'",
      '/**\n * @example\n * ```ts\n * import { h } from "../cli/h.js"\n * ```\n */',
      "// import { i } from '../cli/i.js'",
      "const glob = 'mail/**'",
      "import { j } from '../cli/j.js'",
      "const end = '*/'",
    ].join('\n')
    expect(specifiers(text).sort()).toEqual(
      ['../token/a.js', '../verify/b.js', './d.js', '../cbor/e.js', './use-node.js', '../service/f.js', '../cli/j.js'].sort(),
    )
  })

  it('catches an import pointing up, and one sideways', () => {
    const at = (path: string) => join(SRC, path)
    expect(violation(at('token/inspect.ts'), '../revocation/statement.js')).toMatch(/token imports revocation, a layer above/)
    expect(violation(at('usage/remote.ts'), '../verify/integrity.js')).toMatch(/usage imports verify, a layer above/)
    expect(violation(at('service/server.ts'), '../cli/io.js')).toMatch(/service imports cli, a layer above/)
    expect(violation(at('internal/http.ts'), '../crypto/keys.js')).toMatch(/internal imports crypto, a layer above/)
    expect(violation(at('errors.ts'), './token/text.js')).toMatch(/errors.ts imports token, a layer above/)
    expect(violation(at('usage/remote.ts'), '../revocation/view.js')).toMatch(/sibling/)
    expect(violation(at('verify/verifier.ts'), '../token/integrity.js')).toBeUndefined()
    expect(violation(at('crypto/backend-node.ts'), './backend-noble.js')).toBeUndefined()
    expect(violation(at('internal/http.ts'), '../errors.js')).toBeUndefined()
    expect(violation(at('service.ts'), './service/app.js')).toBeUndefined()
    expect(violation(at('cli/commands/serve.ts'), '../../service/server.js')).toBeUndefined()
  })
})

/**
 * Calls of `sign`, `verify` or `verifyAsync` on something named `backend` (a variable, or a
 * property such as `settings.backend`): the places where a backend object a caller passed in
 * could be handed a scratch signing input. `getBackend()`'s are the library's own.
 */
function backendCalls(text: string): string[] {
  const found: string[] = []
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      ['sign', 'verify', 'verifyAsync'].includes(node.expression.name.text) &&
      /(^|\.)backend$/i.test(node.expression.expression.getText())
    ) {
      found.push(node.expression.getText())
    }
    ts.forEachChild(node, visit)
  }
  visit(ts.createSourceFile('x.ts', text, ts.ScriptTarget.Latest, true))
  return found
}

describe('signing inputs and backend objects', () => {
  it('only src/crypto/ed25519.ts hands a message to a backend object (verifyWith, verifyAsync, signWithBackend copy it for a foreign one)', () => {
    const calls = sources(SRC)
      .filter((file) => relative(SRC, file) !== join('crypto', 'ed25519.ts'))
      .flatMap((file) => backendCalls(readFileSync(file, 'utf8')).map((call) => `${relative(SRC, file)}: ${call}`))
    expect(calls).toEqual([])
  })

  it('finds such a call, and only such', () => {
    expect(backendCalls('backend.verify(s, m, k); settings.backend.sign(k, m); x.backend.verifyAsync(s, m, k)')).toEqual([
      'backend.verify',
      'settings.backend.sign',
      'x.backend.verifyAsync',
    ])
    expect(backendCalls('getBackend().verify(s, m, k); verifyWith(backend, s, m, k); signer.sign(m) // backend.sign(k, m)')).toEqual([])
  })
})

/** The name of the function `node` sits in (a declaration, or a function assigned to a const). */
function enclosingFunction(node: ts.Node): string {
  for (let at = node.parent; at; at = at.parent) {
    if (ts.isFunctionDeclaration(at)) return at.name?.getText() ?? '?'
    if (ts.isVariableDeclaration(at) && at.initializer && (ts.isArrowFunction(at.initializer) || ts.isFunctionExpression(at.initializer)))
      return at.name.getText()
  }
  return '(top)'
}

/**
 * Reads of a store's `atCommit` (property accesses, not the stores' own definitions), each named
 * by the function it sits in: the operations whose results are not yet durable.
 */
function atCommitReads(text: string): string[] {
  const found: string[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && node.name.text === 'atCommit') found.push(enclosingFunction(node))
    ts.forEachChild(node, visit)
  }
  visit(ts.createSourceFile('x.ts', text, ts.ScriptTarget.Latest, true))
  return found
}

describe('operations that resolve at commit', () => {
  it('only the service app reads Store.atCommit (storeOf, and oneDurableWait for its wait): a request gets them only with its answer held for durability', () => {
    const reads = sources(SRC).flatMap((file) => atCommitReads(readFileSync(file, 'utf8')).map((d) => `${relative(SRC, file)}: ${d}`))
    expect(reads.sort()).toEqual([`${join('service', 'app.ts')}: oneDurableWait`, `${join('service', 'app.ts')}: storeOf`])
    // storeOf hands them out only for a request oneDurableWait has taken in.
    const app = readFileSync(join(SRC, 'service', 'app.ts'), 'utf8')
    expect(app).toContain('const storeOf = (c: Context): RequestSteps => (answersAfterDurable.has(c) ? (store.atCommit ?? store) : store)')
    expect(app.match(/answersAfterDurable\.set\(/g)).toHaveLength(1)
  })

  it('finds such a read, and only such', () => {
    expect(
      atCommitReads('const a = store.atCommit; function f() { return s.atCommit.consume(x) }; const g = () => { const l = x.atCommit }'),
    ).toEqual(['(top)', 'f', 'g'])
    expect(atCommitReads('const s = { atCommit: { consume }, get atCommit() { return s } } // store.atCommit')).toEqual([])
  })
})
