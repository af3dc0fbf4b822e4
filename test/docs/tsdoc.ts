/**
 * The public entries' TSDoc as data, for test/docs: which names each entry exports, their
 * summaries, and the code of every `@example`, plus a checker that type-checks examples the way
 * a user's project would see them (`import … from 'mandate'`), all in one TypeScript program.
 *
 * The entries come from package.json `exports` (`./dist/X.d.ts` is built from `src/X.ts`), and
 * the examples import them by package name, mapped to src/ with `paths`: the types a user gets
 * from dist/ are the ones declared in src/ (test/runtimes/types.test.ts checks dist/ itself).
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import ts from 'typescript'

export const repo = resolve(import.meta.dirname, '../..')

/** A public entry: the name users import and the source file it is built from. */
export interface Entry {
  readonly specifier: string
  readonly file: string
}

/** The public entries, from package.json `exports`. */
export function publicEntries(): Entry[] {
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
    name: string
    exports: Record<string, string | { types?: string }>
  }
  const entries: Entry[] = []
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const types = typeof target === 'string' ? undefined : target.types
    const built = types?.match(/^\.\/dist\/(.+)\.d\.ts$/)
    if (built === null || built === undefined) continue
    entries.push({ specifier: pkg.name + subpath.slice(1), file: join(repo, 'src', `${built[1]}.ts`) })
  }
  return entries
}

/** One fenced code block of an `@example`. */
export interface Example {
  /** What it documents: `mandate.createVerifier`, `mandate.Verifier.authorize`, `mandate/node`. */
  readonly name: string
  /** Where it is: `src/file.ts:line (name)`, the line of its first code line. */
  readonly where: string
  /** The entry whose documentation holds it: its names are imported first. */
  readonly entry: Entry
  readonly code: string
}

/** One documented thing an entry exports. */
export interface Documented {
  /** `mandate/node.fileFeedState`, or `mandate/node` for the module comment. */
  readonly name: string
  readonly kind: 'module' | 'function' | 'class' | 'value' | 'type'
  readonly where: string
  readonly summary: string
  /** Fenced blocks found in its own comment (members' examples are in {@link Documentation.examples}). */
  readonly examples: number
}

export interface Documentation {
  readonly entries: Entry[]
  /** Every exported name of every entry, and which entry exports it (the first one, in `exports` order). */
  readonly exported: Map<string, Entry>
  readonly documented: Documented[]
  /** Every example: of exports, of their members (methods, options), and of the entry modules. */
  readonly examples: Example[]
}

/** The compiler options examples are checked with: the project's strictness, minus the unused-name rules. */
const OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2023.d.ts'],
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  types: ['node'],
  typeRoots: [join(repo, 'node_modules/@types')],
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noImplicitReturns: true,
  noPropertyAccessFromIndexSignature: true,
  skipLibCheck: true,
  noEmit: true,
}

/** A compiler host that serves `extra` files from memory and caches what it parses. */
function host(options: ts.CompilerOptions, extra: ReadonlyMap<string, string>, cache: Map<string, ts.SourceFile>): ts.CompilerHost {
  const base = ts.createCompilerHost(options, true)
  return {
    ...base,
    fileExists: (f) => extra.has(f) || base.fileExists(f),
    readFile: (f) => extra.get(f) ?? base.readFile(f),
    getSourceFile(f, languageVersion) {
      const text = extra.get(f)
      if (text !== undefined) return ts.createSourceFile(f, text, languageVersion, true)
      let sf = cache.get(f)
      if (sf === undefined) {
        sf = base.getSourceFile(f, languageVersion)
        if (sf !== undefined) cache.set(f, sf)
      }
      return sf
    },
  }
}

const cache = new Map<string, ts.SourceFile>()

function optionsFor(entries: readonly Entry[]): ts.CompilerOptions {
  return { ...OPTIONS, paths: Object.fromEntries(entries.map((e) => [e.specifier, [e.file]])) }
}

/** The comment text of a JSDoc node, without `/**`, `*\/` and the leading ` * ` of each line. */
function commentLines(sf: ts.SourceFile, doc: ts.JSDoc): { lines: string[]; firstLine: number } {
  const raw = sf.text.slice(doc.getStart(sf), doc.end)
  const body = raw.replace(/^\/\*\*/, '').replace(/\*\/$/, '')
  const lines = body.split('\n').map((l, i) => (i === 0 ? l.replace(/^ /, '') : l.replace(/^\s*\* ?/, '').replace(/^\s*$/, '')))
  return { lines, firstLine: sf.getLineAndCharacterOfPosition(doc.getStart(sf)).line + 1 }
}

interface Parsed {
  summary: string
  /** Fenced blocks inside `@example` sections, with the 1-based source line of their first code line. */
  blocks: { code: string; line: number; lang: string }[]
}

/** Splits a comment into its summary (the text before the first block tag) and its `@example` blocks. */
export function parseComment(lines: readonly string[], firstLine: number): Parsed {
  let summary = ''
  let tag: string | undefined
  let fence: { lang: string; start: number; code: string[] } | undefined
  const blocks: Parsed['blocks'] = []
  lines.forEach((line, i) => {
    if (fence !== undefined) {
      if (/^\s*```\s*$/.test(line)) {
        if (tag === 'example') blocks.push({ code: fence.code.join('\n'), line: firstLine + fence.start, lang: fence.lang })
        fence = undefined
      } else fence.code.push(line)
      return
    }
    const open = line.match(/^\s*```(\w*)/)
    if (open !== null) {
      fence = { lang: open[1] ?? '', start: i + 1, code: [] }
      return
    }
    const block = line.match(/^\s*@(\w+)/)
    if (block !== null) tag = block[1]
    else if (tag === undefined) summary += `${line}\n`
  })
  return { summary: summary.trim(), blocks }
}

const CODE = new Set(['ts', 'typescript', 'js', 'javascript'])

/** The declarations whose comments document an exported symbol (a variable's comment sits on its statement). */
function docsOf(decl: ts.Node): ts.JSDoc[] {
  return ts.getJSDocCommentsAndTags(decl).filter((d): d is ts.JSDoc => ts.isJSDoc(d))
}

function rel(file: string): string {
  return file.startsWith(`${repo}/`) ? file.slice(repo.length + 1) : file
}

function kindOf(symbol: ts.Symbol): Documented['kind'] {
  if (symbol.flags & ts.SymbolFlags.Function) return 'function'
  if (symbol.flags & ts.SymbolFlags.Class) return 'class'
  if (symbol.flags & ts.SymbolFlags.Value) return 'value'
  return 'type'
}

/** Reads the documentation of every public entry. */
export function readDocumentation(): Documentation {
  const entries = publicEntries()
  const options = optionsFor(entries)
  const program = ts.createProgram({ rootNames: entries.map((e) => e.file), options, host: host(options, new Map(), cache) })
  const checker = program.getTypeChecker()
  const exported = new Map<string, Entry>()
  const documented: Documented[] = []
  const examples: Example[] = []

  const collect = (entry: Entry, name: string, sf: ts.SourceFile, docs: readonly ts.JSDoc[], kind?: Documented['kind']): void => {
    let summary = ''
    let count = 0
    for (const doc of docs) {
      const { lines, firstLine } = commentLines(sf, doc)
      const parsed = parseComment(lines, firstLine)
      if (parsed.summary !== '') summary = parsed.summary
      for (const b of parsed.blocks) {
        if (!CODE.has(b.lang)) continue
        count++
        examples.push({ name, where: `${rel(sf.fileName)}:${b.line} (${name})`, entry, code: b.code })
      }
    }
    if (kind !== undefined) {
      const line = docs[0] === undefined ? 0 : sf.getLineAndCharacterOfPosition(docs[0].getStart(sf)).line + 1
      documented.push({ name, kind, where: `${rel(sf.fileName)}:${line}`, summary, examples: count })
    }
  }

  for (const entry of entries) {
    const sf = program.getSourceFile(entry.file)
    if (sf === undefined) throw new Error(`${entry.file} is missing`)
    // The module comment is the JSDoc on the first statement that carries `@module`.
    const first = sf.statements[0]
    const moduleDocs = first === undefined ? [] : docsOf(first).filter((d) => d.tags?.some((t) => t.tagName.text === 'module'))
    collect(entry, entry.specifier, sf, moduleDocs, 'module')

    const moduleSymbol = checker.getSymbolAtLocation(sf)
    if (moduleSymbol === undefined) continue
    for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
      const name = symbol.getName()
      if (!exported.has(name)) exported.set(name, entry)
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
      const decls = target.declarations ?? []
      const declFile = decls[0]?.getSourceFile() ?? sf
      collect(
        entry,
        `${entry.specifier}.${name}`,
        declFile,
        decls.flatMap((d) => docsOf(d)),
        kindOf(target),
      )
      // Members' examples (a method of the verifier, an option) are checked too.
      for (const decl of decls) {
        if (!ts.isClassDeclaration(decl) && !ts.isInterfaceDeclaration(decl)) continue
        for (const member of decl.members) {
          const memberName = member.name === undefined ? 'constructor' : member.name.getText(declFile)
          collect(entry, `${entry.specifier}.${name}.${memberName}`, declFile, docsOf(member))
        }
      }
    }
  }
  return { entries, exported, documented, examples }
}

/**
 * What examples may use without declaring it: conventional names for things an example would
 * have at hand, so that it can show one call without building its whole context. Each is a
 * value a user really holds in that situation; nothing here exists to make an example compile
 * that would not compile for a user.
 */
export const PRELUDE = `import type { KeyPair, RevocationView, UnverifiedInvocation, UnverifiedMandate, Verifier, VerifierOptions } from 'mandate'
import type { HttpGuard } from 'mandate/http'
declare global {
  /** A principal's key pair: the root of a chain. */
  const alice: KeyPair
  /** An agent's key pair, the holder \`grant\` is bound to. */
  const assistant: KeyPair
  /** A mandate alice minted for the assistant. */
  const grant: UnverifiedMandate
  /** An invocation the assistant made with it. */
  const invocation: UnverifiedInvocation
  /** A token's text form, as received. */
  const text: string
  /** Unix seconds. */
  const now: number
  /** The mandate service's URL and its did:key (spec/service-v1.md). */
  const url: string
  const serviceKey: string
  /** The key the mail service's verifier is registered with at the mandate service. */
  const mailVerifierKey: KeyPair
  /** A service's verifier, made with createVerifier. */
  const verifier: Verifier
  /** A verifier's other settings, where an example shows one option. */
  const roots: VerifierOptions['roots']
  const revocations: RevocationView
  /** An API's HTTP guard, made with createHttpGuard (mandate/http). */
  const guard: HttpGuard
}
export {}
`

/** A failed example: where it is, the compiler's message, and the code as it was checked. */
export interface Failure {
  /** The documented name, as in {@link Example.name}. */
  readonly name: string
  readonly where: string
  readonly message: string
  readonly code: string
}

const PRELUDE_FILE = join(repo, 'test/docs/.examples/prelude.ts')

/**
 * The file an example is checked as: imports of the exported names it mentions and does not
 * declare itself (from its own entry first), then its code as written. `export {}` makes it a
 * module, so its top-level names shadow the prelude's and top-level `await` is allowed.
 */
export function exampleFile(example: Example, doc: Pick<Documentation, 'exported'>): { text: string; header: number } {
  const sf = ts.createSourceFile('example.ts', example.code, ts.ScriptTarget.ES2022, true)
  const declared = new Set<string>()
  const used = new Set<string>()
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) used.add(node.text)
    node.forEachChild(visit)
  }
  const bind = (name: ts.BindingName): void => {
    if (ts.isIdentifier(name)) declared.add(name.text)
    else for (const el of name.elements) if (!ts.isOmittedExpression(el)) bind(el.name)
  }
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st)) {
      const clause = st.importClause
      if (clause?.name !== undefined) declared.add(clause.name.text)
      const named = clause?.namedBindings
      if (named !== undefined && ts.isNamespaceImport(named)) declared.add(named.name.text)
      if (named !== undefined && ts.isNamedImports(named)) for (const s of named.elements) declared.add(s.name.text)
    } else if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) bind(d.name)
    else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st)) && st.name !== undefined)
      declared.add(st.name.text)
    else if (ts.isTypeAliasDeclaration(st)) declared.add(st.name.text)
    visit(st)
  }
  const bySpecifier = new Map<string, string[]>()
  for (const name of [...used].sort()) {
    if (declared.has(name)) continue
    const own = example.entry
    const from = ownExport(own, name, doc) ?? doc.exported.get(name)
    if (from === undefined) continue
    bySpecifier.set(from.specifier, [...(bySpecifier.get(from.specifier) ?? []), name])
  }
  const imports = [...bySpecifier].map(([specifier, names]) => `import { ${names.join(', ')} } from '${specifier}'`)
  const header = [`// ${example.where}`, ...imports]
  return { text: `${header.join('\n')}\n${example.code}\nexport {}\n`, header: header.length }
}

/** The entry itself when it exports `name` (names are looked up in the example's own entry first). */
function ownExport(entry: Entry, name: string, doc: Pick<Documentation, 'exported'>): Entry | undefined {
  const owner = doc.exported.get(name)
  return owner?.specifier === entry.specifier ? owner : undefined
}

/** Type-checks every example in one program; returns the failures (empty when all compile). */
export function checkExamples(
  examples: readonly Example[],
  doc: Pick<Documentation, 'entries' | 'exported'>,
  prelude: string = PRELUDE,
): Failure[] {
  const files = new Map<string, string>([[PRELUDE_FILE, prelude]])
  const checked: { file: string; example: Example; header: number }[] = []
  examples.forEach((example, i) => {
    const file = join(repo, `test/docs/.examples/example-${String(i).padStart(3, '0')}.ts`)
    const { text, header } = exampleFile(example, doc)
    files.set(file, text)
    checked.push({ file, example, header })
  })
  const options = optionsFor(doc.entries)
  const program = ts.createProgram({ rootNames: [...files.keys()], options, host: host(options, files, cache) })
  const failures: Failure[] = []
  const preludeFile = program.getSourceFile(PRELUDE_FILE)
  for (const d of preludeFile === undefined ? [] : ts.getPreEmitDiagnostics(program, preludeFile)) {
    failures.push({
      name: 'prelude',
      where: 'test/docs/tsdoc.ts (PRELUDE)',
      message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
      code: prelude,
    })
  }
  for (const { file, example, header } of checked) {
    const sf = program.getSourceFile(file)
    if (sf === undefined) continue
    for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
      const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line - header + 1
      failures.push({
        name: example.name,
        where: `${example.where}, example line ${line}`,
        message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
        code: files.get(file) ?? '',
      })
    }
  }
  return failures
}

/**
 * Compiles one file of this repository with the settings of tsconfig.json; returns its
 * diagnostics as `line: message` (empty when it compiles, unused `@ts-expect-error` included).
 */
export function compileProjectFile(file: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(repo, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  )
  if (config === undefined) throw new Error('tsconfig.json does not parse')
  const program = ts.createProgram({ rootNames: [file], options: config.options, host: host(config.options, new Map(), new Map()) })
  const sf = program.getSourceFile(file)
  if (sf === undefined) throw new Error(`${file} is missing`)
  return ts.getPreEmitDiagnostics(program, sf).map((d) => {
    const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line + 1
    return `${rel(file)}:${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
  })
}
