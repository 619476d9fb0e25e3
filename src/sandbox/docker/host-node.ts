import { open, realpath } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import { SafeCoderError } from '../../shared/errors.js'
import { elfLinkage } from './image-elf.js'

/** Where the libraries appear inside a container; LD_LIBRARY_PATH names it. */
export const LIBRARY_DIR_IN = '/opt/safe-coder/lib'

/**
 * The host's Node binary and every shared library it loads, as host files: enough to run it in
 * a container whose image holds no libc at all, so nothing of that image runs with it.
 */
export interface HostNode {
  binary: string
  /** The dynamic loader: its host file, and the path the binary names for it (PT_INTERP). */
  interpreter?: { source: string; target: string }
  /** Each needed library by the name the loader looks for, and its host file. */
  libraries: { name: string; source: string }[]
}

const HEADER_BYTES = 64 * 1024

/** The Node binary running Safe Coder, with its loader and libraries as `ld.so --list` finds them. */
export async function findHostNode(binary = process.execPath): Promise<HostNode> {
  const node = await realpath(binary).catch(() => binary)
  const linkage = elfLinkage(await readHead(node))
  if (linkage.kind === 'static') return { binary: node, libraries: [] }
  if (linkage.kind === 'not-elf') throw unusable(node, 'it is not an ELF executable')
  const target = linkage.interpreter
  if (!path.isAbsolute(target) || target.split('/').includes('..')) {
    throw unusable(node, `its loader path ${JSON.stringify(target)} is not a plain absolute path`)
  }
  const listed = await execa(target, ['--list', node], { reject: false, stdin: 'ignore' })
  if (listed.exitCode !== 0) {
    throw unusable(node, `${target} --list failed: ${(listed.stderr || listed.stdout).trim()}`)
  }
  const libraries = await Promise.all(
    parseLoaderList(listed.stdout).map(async ({ name, source }) => ({
      name,
      source: await realpath(source),
    })),
  )
  return { binary: node, interpreter: { source: await realpath(target), target }, libraries }
}

/**
 * The `name => path` lines of `ld.so --list` (what `ldd` prints). The vDSO and the loader have no
 * arrow; a library the loader cannot find is an error naming it.
 */
export function parseLoaderList(text: string): { name: string; source: string }[] {
  const found: { name: string; source: string }[] = []
  for (const line of text.split('\n')) {
    const match = /^\s*(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?\s*$/.exec(line)
    if (match === null) continue
    const [, name = '', source = ''] = match
    if (source === 'not found') {
      throw new SafeCoderError('SANDBOX_FAILED', `Node's shared library ${name} was not found.`, {
        hint: 'Run Safe Coder with a Node installation whose libraries are installed (`ldd $(command -v node)` shows what is missing).',
        data: { library: name },
      })
    }
    if (!/^[\w.+-]+$/.test(name) || !path.isAbsolute(source)) continue
    found.push({ name, source })
  }
  return found
}

async function readHead(file: string): Promise<Uint8Array> {
  const handle = await open(file, 'r')
  try {
    const buffer = Buffer.alloc(HEADER_BYTES)
    const { bytesRead } = await handle.read(buffer, 0, HEADER_BYTES, 0)
    return buffer.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
}

function unusable(node: string, why: string): SafeCoderError {
  return new SafeCoderError('SANDBOX_FAILED', `Cannot run ${node} in a container: ${why}.`, {
    hint: 'The egress proxy runs on the Node binary running Safe Coder; use a Node build for Linux (glibc or static) installed from nodejs.org or your distribution.',
    data: { path: node },
  })
}
