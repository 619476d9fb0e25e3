import { SafeCoderError, isSafeCoderError } from '../../shared/errors.js'
import type { DiskLimits } from '../types.js'

/** What a command or tool prints when a write finds no room (strerror(ENOSPC)). */
export const NO_SPACE = /No space left on device/

/** A file operation that found no room: DISK_FULL, as if the host's disk were the one full. */
export function diskFullError(
  what: string,
  errno: string,
  data: Record<string, unknown>,
): SafeCoderError {
  return new SafeCoderError('DISK_FULL', `${what}: the disk is full (${errno}).`, {
    hint: "Free space on the disk that holds Safe Coder's state directory, then retry.",
    data: { ...data, errno },
  })
}

/**
 * A file operation in the sandbox that found no room. Where the sandbox's disk limit holds,
 * the disk that filled is the sandbox's own, not the host's: DISK_FULL that says so, with the
 * limit, marked `inSandbox` so the agent hands it to the model (which can delete files) rather
 * than ending the turn. Anything else is returned as it was.
 */
export function sandboxDiskFull(error: unknown, limits: DiskLimits | undefined): unknown {
  if (!isSafeCoderError(error, 'DISK_FULL') || limits?.workspace.enforced !== true) return error
  return new SafeCoderError(
    'DISK_FULL',
    `${error.message} The sandbox's own disk is full: ${limits.workspace.how}.`,
    {
      hint: `Delete files the sandbox no longer needs, or raise ${limits.key} (now ${limits.mib} MiB).`,
      cause: error,
      data: { ...error.data, inSandbox: true, key: limits.key },
    },
  )
}

/** One line for a command that printed "No space left on device": which limit it met, or why none. */
export function describeDiskFull(limits: DiskLimits): string {
  const what = 'the command ran out of space in the sandbox (No space left on device)'
  if (!limits.workspace.enforced) {
    return `${what}; /workspace is ${limits.workspace.how.replace(/^not enforced: /, '')}: check the host's free space (df -h)`
  }
  return `${what}: ${limits.workspace.how}; ${limits.root.how}. Delete files there, or raise ${limits.key} (the host's disk is not affected)`
}
