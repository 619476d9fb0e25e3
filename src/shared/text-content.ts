import { isUtf8 } from 'node:buffer'

/** How far git looks for a NUL byte before calling a file binary. */
const sniffBytes = 8192
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** Git's own rule: a NUL byte in the first 8 KiB. */
export function hasEarlyNul(bytes: Uint8Array): boolean {
  return bytes.subarray(0, sniffBytes).includes(0)
}

// One rule for every reader of sandbox bytes (diff, sync plan, merge): what one calls binary,
// none may show or merge as text. Invalid UTF-8 counts, since no terminal should get it raw.
/** Binary: git's NUL rule, or not valid UTF-8. */
export function isBinaryContent(bytes: Uint8Array): boolean {
  return hasEarlyNul(bytes) || !isUtf8(bytes)
}

/** The bytes as text, or undefined when they are binary by {@link isBinaryContent}. */
export function decodeText(bytes: Uint8Array): string | undefined {
  if (hasEarlyNul(bytes)) return undefined
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}
