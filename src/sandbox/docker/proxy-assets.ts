import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import path from 'node:path'
import type { MountSettings } from 'dockerode'
import { SafeCoderError } from '../../shared/errors.js'
import { defaultDistDir } from './dist-dir.js'
import { findHostNode, LIBRARY_DIR_IN, type HostNode } from './host-node.js'

/**
 * Host files the proxy runs: the host's Node binary with its loader and libraries, and Safe
 * Coder's built proxy. Every one is mounted read-only into Safe Coder's own proxy image.
 */
export interface ProxyAssets {
  node: HostNode
  dist: string
  /** package.json next to dist/: it makes Node load dist/*.js as ES modules. */
  packageJson: string
}

export const NODE_IN = '/opt/safe-coder/node'
export const DIST_IN = '/opt/safe-coder/dist'

/** The proxy's files, or SANDBOX_FAILED naming the missing one and how to get it. */
export async function locateProxy(dist = defaultDistDir()): Promise<ProxyAssets> {
  const main = path.join(dist, 'network', 'proxy-main.js')
  const packageJson = path.join(path.dirname(dist), 'package.json')
  const isFile = async (file: string): Promise<boolean> =>
    (await stat(file).catch(() => undefined))?.isFile() ?? false
  if (!(await isFile(process.execPath))) {
    throw new SafeCoderError(
      'SANDBOX_FAILED',
      `Cannot start the egress proxy: ${process.execPath} is missing.`,
      {
        hint: 'The proxy runs on the Node binary running Safe Coder; reinstall Node or run Safe Coder with a Node that is installed.',
        data: { path: process.execPath },
      },
    )
  }
  for (const file of [main, packageJson]) {
    if (await isFile(file)) continue
    throw new SafeCoderError(
      'SANDBOX_FAILED',
      `Cannot start the egress proxy: ${file} is missing.`,
      {
        hint: `Build Safe Coder first: run \`npm run build\` in ${path.dirname(dist)} (the proxy runs from its dist/).`,
        data: { path: file },
      },
    )
  }
  const node = await findHostNode()
  // The proxy runs as nobody: its files must be readable by others (a umask of 077 breaks it).
  const mode = async (file: string): Promise<number> => (await stat(file)).mode
  const needs: [string, number][] = [
    [node.binary, 0o005],
    [dist, 0o005],
    [main, 0o004],
    ...(node.interpreter === undefined
      ? []
      : [[node.interpreter.source, 0o005] as [string, number]]),
    ...node.libraries.map((l): [string, number] => [l.source, 0o004]),
  ]
  for (const [file, need] of needs) {
    if (((await mode(file)) & need) === need) continue
    throw new SafeCoderError(
      'SANDBOX_FAILED',
      `Cannot start the egress proxy: ${file} is not readable by other users.`,
      {
        hint: `The proxy runs as an unprivileged user: \`chmod -R o+rX ${file}\`, or rebuild with umask 022.`,
        data: { path: file },
      },
    )
  }
  return { node, dist, packageJson }
}

/** The read-only mounts that put the proxy's Node, its libraries and its code in a container. */
export function proxyMounts(assets: ProxyAssets): MountSettings[] {
  const ro = (Source: string, Target: string): MountSettings => ({
    Type: 'bind',
    Source,
    Target,
    ReadOnly: true,
  })
  const { node } = assets
  return [
    ro(node.binary, NODE_IN),
    ...(node.interpreter === undefined
      ? []
      : [ro(node.interpreter.source, node.interpreter.target)]),
    ...node.libraries.map((l) => ro(l.source, `${LIBRARY_DIR_IN}/${l.name}`)),
    ro(assets.dist, DIST_IN),
    ro(assets.packageJson, '/opt/safe-coder/package.json'),
  ]
}

/**
 * The proxy runs as nobody: the policy file and its folder must be readable by others. Checked
 * here so the failure names the file instead of a proxy that never becomes ready.
 */
export async function assertPolicyReadable(policyFile: string): Promise<void> {
  const fail = (why: string): SafeCoderError =>
    new SafeCoderError('SANDBOX_FAILED', `Cannot use the network policy ${policyFile}: ${why}.`, {
      hint: 'Write the policy (JSON: mode, allow, deny) with mode 0644 in a folder of its own with mode 0755 before creating the sandbox.',
      data: { path: policyFile },
    })
  const file = await stat(policyFile).catch(() => undefined)
  if (file?.isFile() !== true) throw fail('no such file')
  await access(policyFile, constants.R_OK).catch(() => {
    throw fail('it cannot be read')
  })
  const dir = await stat(path.dirname(policyFile))
  if ((file.mode & 0o004) === 0 || (dir.mode & 0o005) !== 0o005) {
    throw fail('the egress proxy runs as an unprivileged user and cannot read it')
  }
}
