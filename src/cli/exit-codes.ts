import type { ErrorCode } from '../shared/errors.js'

/** sysexits-style statuses, so scripts can tell a bad config from a missing daemon. */
export const exitCodes: Record<ErrorCode, number> = {
  USAGE: 64,
  PATH_REJECTED: 65,
  SYNC_CONFLICT: 65,
  NOT_FOUND: 66,
  BACKEND_UNAVAILABLE: 69,
  IMAGE_MISSING: 69,
  IMAGE_BUILD_FAILED: 70,
  SANDBOX_FAILED: 70,
  SANDBOX_GONE: 70,
  INTERNAL: 70,
  COPY_FAILED: 74,
  DISK_FULL: 74,
  CONFIG_INVALID: 78,
  PROVIDER_FAILED: 75,
  STEP_LIMIT: 79,
  TIMEOUT: 124,
  ABORTED: 130,
}

/**
 * `sync` (and `run --sync`, `sync --dry-run`) when conflicts remain: files left untouched, or
 * written by `--merge` with conflict markers still in them. Scripts must not take it for success.
 */
export const conflictsRemainStatus = exitCodes.SYNC_CONFLICT
