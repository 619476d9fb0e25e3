import { defaultLoaders, type Loaders } from 'cosmiconfig'
import { parse as parseToml, TomlError } from 'smol-toml'
import { SafeCoderError } from '../shared/errors.js'

interface SyntaxPosition {
  line: number
  column: number
  reason: string
}

// js-yaml's YAMLException: `mark` is 0-based.
interface YamlException {
  reason: string
  mark: { line: number; column: number }
}

/**
 * Parsers for the file formats a config file may use. Each reports a syntax error with the file,
 * line and column, so the user can go straight to it.
 */
export const configLoaders: Loaders = {
  '.toml': loadToml,
  '.json': loadJson,
  '.yaml': loadYaml,
  '.yml': loadYaml,
  noExt: loadRc,
}

// The same parsers by extension, `''` being `.safecoderrc`'s.
const dataParsers: Record<string, (file: string, content: string) => unknown> = {
  '.toml': loadToml,
  '.json': loadJson,
  '.yaml': loadYaml,
  '.yml': loadYaml,
  '': loadRc,
}

/**
 * Parses a data-format config file's text by its extension (`''` for `.safecoderrc`), with the
 * same syntax errors as the loaders. Scripts are not data: they have no parser here.
 */
export function parseConfigText(file: string, extension: string, content: string): unknown {
  const parse = dataParsers[extension]
  if (parse === undefined) throw new Error(`no parser for ${extension} config files`)
  return parse(file, content)
}

function loadToml(file: string, content: string): unknown {
  try {
    return parseToml(content)
  } catch (error) {
    if (!(error instanceof TomlError)) throw error
    const reason = (error.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '')
    throw syntaxError(file, 'TOML', { line: error.line, column: error.column, reason })
  }
}

function loadJson(file: string, content: string): unknown {
  try {
    return JSON.parse(content) as unknown
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error
    throw syntaxError(file, 'JSON', jsonPosition(content, error.message))
  }
}

function loadYaml(file: string, content: string): unknown {
  try {
    return defaultLoaders['.yaml'](file, content) as unknown
  } catch (error) {
    if (!isYamlException(error)) throw error
    const { line, column } = error.mark
    throw syntaxError(file, 'YAML', { line: line + 1, column: column + 1, reason: error.reason })
  }
}

// `.safecoderrc` holds JSON or YAML; JSON gets JSON's error messages, which are clearer for it.
function loadRc(file: string, content: string): unknown {
  return content.trimStart().startsWith('{') ? loadJson(file, content) : loadYaml(file, content)
}

function syntaxError(file: string, format: string, at: SyntaxPosition): SafeCoderError {
  const where = `line ${at.line}, column ${at.column}`
  return new SafeCoderError(
    'CONFIG_INVALID',
    `Invalid configuration in ${file}: ${format} syntax error at ${where}: ${at.reason}.`,
    {
      hint: `Fix the ${format} syntax at ${where}; \`safe-coder config init\` writes a commented example.`,
      data: {
        file,
        line: at.line,
        column: at.column,
        expected: `valid ${format}`,
        found: at.reason,
      },
    },
  )
}

// V8 says "… in JSON at position 11" (Node 20) or "(line 2 column 5)" (newer Node).
function jsonPosition(content: string, message: string): SyntaxPosition {
  const reason = message
    .replace(/ in JSON at position \d+.*$/, '')
    .replace(/ \(line \d+ column \d+\)$/, '')
    .replace(/^Unexpected end of JSON input$/, 'unexpected end of the file')
  const lineColumn = /\(line (\d+) column (\d+)\)/.exec(message)
  if (lineColumn !== null)
    return { line: Number(lineColumn[1]), column: Number(lineColumn[2]), reason }
  const position = /at position (\d+)/.exec(message)
  const offset = position === null ? content.length : Number(position[1])
  const before = content.slice(0, offset).split('\n')
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1, reason }
}

function isYamlException(error: unknown): error is YamlException {
  if (typeof error !== 'object' || error === null) return false
  const candidate = error as Partial<YamlException>
  return typeof candidate.reason === 'string' && typeof candidate.mark?.line === 'number'
}
