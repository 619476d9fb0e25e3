import { createHash } from 'node:crypto'
import type { Stats } from 'node:fs'
import { constants } from 'node:fs'
import { access, lstat, open, realpath, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { errnoOf, SafeCoderError } from '../shared/errors.js'
import { plantingRisks, type FileOwner } from './file-safety.js'
import { parseConfigText } from './loaders.js'
import { homeDirectory } from './paths.js'

/** Where a project's configuration may live, checked in this order in each directory. */
export const projectSearchPlaces = [
  'package.json',
  '.safecoderrc',
  '.safecoderrc.json',
  '.safecoderrc.yaml',
  '.safecoderrc.yml',
  '.safecoderrc.toml',
  'safecoder.config.js',
  'safecoder.config.mjs',
  'safecoder.config.cjs',
]

/** Formats Node executes to load: their code runs on the host just by being read. */
const scriptExtensions = new Set(['.js', '.mjs', '.cjs'])

// No config file is this large; a bigger one is a mistake or an attack on memory.
const maxConfigBytes = 4 * 1024 * 1024

/** A project config file as found, read once: checks and parsing use these same bytes. */
export interface FoundProjectFile {
  /** The path in the directory searched (a link there is followed to read it). */
  file: string
  /** The file's real path: trust is recorded against it. */
  realFile: string
  /** The directory it was found in: `safe-coder trust` takes it. */
  directory: string
  /** JavaScript: only executing it would read it. */
  script: boolean
  /**
   * Its values, parsed from the bytes read (call it only once the file passed its checks);
   * undefined for JavaScript, which only executing it can read.
   */
  parse: (() => unknown) | undefined
  /** sha256 of what it configures: its bytes, or for package.json its `safecoder` value. */
  digest: string
  /** Why another user could have planted it (file-safety.ts); empty when none. */
  risks: string[]
}

/**
 * The directories the project search visits, nearest first: from `projectDir` up to the nearest
 * git root (a directory holding `.git`), never the home directory or above it (user-wide
 * settings live in the user file). Outside a git repository only `projectDir` itself, so a file
 * in a parent such as /tmp is never read.
 */
export async function projectSearchDirectories(
  projectDir: string,
  env: NodeJS.ProcessEnv,
): Promise<string[]> {
  const home = path.resolve(homeDirectory(env))
  const start = path.resolve(projectDir)
  const directories: string[] = []
  for (let directory = start; directory !== home;) {
    directories.push(directory)
    if (await exists(path.join(directory, '.git'))) return directories
    const parent = path.dirname(directory)
    if (parent === directory) break
    directory = parent
  }
  return start === home ? [] : [start]
}

/** The nearest project config file of `projectDir`, read and checked, if there is one. */
export async function findProjectFile(
  projectDir: string,
  env: NodeJS.ProcessEnv,
  owner: FileOwner | undefined,
): Promise<FoundProjectFile | undefined> {
  for (const directory of await projectSearchDirectories(projectDir, env)) {
    for (const place of projectSearchPlaces) {
      const found = await readCandidate(path.join(directory, place), directory, owner)
      if (found !== undefined) return found
    }
  }
  return undefined
}

/**
 * Reads and checks one candidate file, without executing anything. Undefined when there is no
 * file there, or it is a package.json without a `safecoder` key.
 */
export async function readCandidate(
  file: string,
  directory: string,
  owner: FileOwner | undefined,
): Promise<FoundProjectFile | undefined> {
  let handle
  try {
    // Non-blocking, so a FIFO planted under a config file's name cannot hang the search.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (error) {
    const errno = errnoOf(error)
    if (errno === 'ENOENT' || errno === 'ENOTDIR') return undefined
    // A directory this user may not enter is the project's problem, not its config file's.
    if ((errno === 'EACCES' || errno === 'EPERM') && !(await searchable(directory)))
      throw directoryUnreadable(directory, errno, error)
    throw unreadable(file, errno, error)
  }
  let stats: Stats
  let bytes: Buffer
  try {
    stats = await handle.stat()
    if (!stats.isFile()) throw notAFile(file)
    // Read to a bound, not to EOF: the file may still be growing.
    bytes = await readAtMost(handle, maxConfigBytes + 1)
    if (bytes.length > maxConfigBytes) throw tooLarge(file)
  } finally {
    await handle.close()
  }
  const content = bytes.toString('utf8')
  const realFile = await realpath(file)
  const script = scriptExtensions.has(path.extname(file))
  let parse: (() => unknown) | undefined
  let digested = content
  if (path.basename(file) === 'package.json') {
    const pkg = parseConfigText(file, '.json', content)
    // A package.json without a `safecoder` key is not a config file: the search goes on.
    if (typeof pkg !== 'object' || pkg === null || !('safecoder' in pkg)) return undefined
    const value = pkg.safecoder
    parse = () => value
    digested = JSON.stringify(value)
  } else if (!script) {
    parse = () => parseConfigText(file, path.extname(file), content)
  }
  const risks = await plantingRisks(stats, [directory, path.dirname(realFile)], owner)
  const digest = createHash('sha256').update(digested).digest('hex')
  return { file, realFile, directory, script, parse, digest, risks }
}

async function readAtMost(handle: FileHandle, limit: number): Promise<Buffer> {
  const buffer = Buffer.alloc(limit)
  let length = 0
  for (;;) {
    const { bytesRead } = await handle.read(buffer, length, limit - length, length)
    if (bytesRead === 0) break
    length += bytesRead
    if (length === limit) break
  }
  return buffer.subarray(0, length)
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file)
    return true
  } catch {
    return false
  }
}

async function searchable(directory: string): Promise<boolean> {
  return access(directory, constants.X_OK).then(
    () => true,
    () => false,
  )
}

function directoryUnreadable(directory: string, errno: string, cause: unknown): SafeCoderError {
  return new SafeCoderError(
    'COPY_FAILED',
    `Cannot read the project directory ${directory} (${errno}): its files, and any config file in it, are out of reach.`,
    {
      hint: `Give yourself read and search permission on it (chmod u+rx ${JSON.stringify(directory)}), or run Safe Coder on another project.`,
      cause,
      data: { path: directory },
    },
  )
}

function unreadable(file: string, errno: string | undefined, cause: unknown): SafeCoderError {
  return new SafeCoderError(
    'CONFIG_INVALID',
    `Invalid configuration in ${file}: cannot read it (${errno ?? 'unknown error'}).`,
    { hint: 'Fix its permissions, or remove it.', cause, data: { file } },
  )
}

function notAFile(file: string): SafeCoderError {
  return new SafeCoderError(
    'CONFIG_INVALID',
    `Invalid configuration in ${file}: it is not a regular file.`,
    { hint: 'A project config file must be a plain file; remove or replace it.', data: { file } },
  )
}

function tooLarge(file: string): SafeCoderError {
  return new SafeCoderError(
    'CONFIG_INVALID',
    `Invalid configuration in ${file}: it is larger than a config file can be (${maxConfigBytes} bytes).`,
    { hint: 'Remove it, or keep only the settings in it.', data: { file } },
  )
}
