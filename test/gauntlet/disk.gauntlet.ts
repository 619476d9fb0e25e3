import { lstat, mkdir, readdir } from 'node:fs/promises'
import path from 'node:path'
import { expect } from 'vitest'
import { gauntlet, suite } from './helpers/cases.js'
import { show } from './helpers/world.js'

/**
 * A command that fills every place it can write (docs/sandboxing.md#disk-limits): the writes
 * stop inside with ENOSPC at each limit, Safe Coder says which limit was met, the host holds no
 * more than the limits, and the session goes on once the files are gone.
 */

const MIB = 1024 * 1024
const DISK_MIB = 64

/**
 * Host bytes allocated under `dir`, not descending into other file systems (a session's mirror
 * is its disk's mount: the image file under the session folder is what the host holds).
 */
async function hostBytes(dir: string): Promise<number> {
  const root = await lstat(dir)
  let total = 0
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const info = await lstat(path.join(at, entry.name))
      if (info.dev !== root.dev) continue
      total += info.blocks * 512
      if (info.isDirectory()) await walk(path.join(at, entry.name))
    }
  }
  await walk(dir)
  return total
}

/** Writes `mib` MiB of zeros to `file`; dd's complaint (and nothing else) goes to stderr. */
function fill(file: string, mib: number): string {
  return `dd if=/dev/zero of=${file} bs=1M count=${mib} 2>&1 >/dev/null | grep -v records >&2`
}

suite('attack', (backend) => {
  const vm = backend === 'qemu' || backend === 'firecracker'
  gauntlet(
    backend,
    `fill the disk: /workspace, the root and /tmp past their limits (${DISK_MIB} MiB)`,
    async (w, c) => {
      await mkdir(w.stateHome, { recursive: true })
      const before = await hostBytes(w.stateHome)
      // In a VM the root and /tmp are one tmpfs overlay: half the guest's 512 MiB.
      const fills = vm
        ? [fill('/workspace/big', 100), fill('/tmp/big', 300)]
        : [fill('/workspace/big', 100), fill('/tmp/big', 48), fill('/var/tmp/big', 48)]
      const r = await w.exec(`${fills.join('; ')}; touch /etc/evil; true`, { timeoutS: 600 })
      expect(r.exitCode, show(r)).toBe(0)
      const full = r.stderr.match(/^dd: error writing .*: No space left on device$/gm) ?? []
      expect(full.length, show(r)).toBe(fills.length)
      expect(r.stderr).toMatch(/safe-coder: DISK_FULL: the command ran out of space in the sandbox/)
      expect(r.stderr).toMatch(vm ? /\[vm\] disk_size_mib/ : /\[docker\] disk_mb/)
      if (!vm) expect(r.stderr).toMatch(/touch: cannot touch '\/etc\/evil': Read-only file system/)
      const grown = (await hostBytes(w.stateHome)) - before
      c.note(
        `${full.length} writes stopped with ENOSPC; the state directory grew ${(grown / MIB).toFixed(1)} MiB`,
      )
      // The disk itself, plus (a VM) the mirror's copy of what was pulled, plus the history.
      expect(grown, 'host bytes the fill cost').toBeLessThan(
        (vm ? 2 : 1) * DISK_MIB * MIB + 16 * MIB,
      )

      const again = await w.exec('rm -f big && echo ok > after.txt && cat after.txt', {
        session: r.id,
      })
      expect(again.exitCode, show(again)).toBe(0)
      expect(again.stdout.trim()).toBe('ok')
      expect(again.stderr).not.toMatch(/DISK_FULL/)
    },
    {
      world: {
        userConfig: `[docker]\ndisk_mb = ${DISK_MIB}\ntmp_size_mb = 32\n\n[vm]\ndisk_size_mib = ${DISK_MIB}\nmem_size_mib = 512\n`,
      },
      timeoutMs: 600_000,
    },
  )
})
