import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { expect } from 'vitest'
import { craftHostileDrive } from '../helpers/hostile-drive.js'
import { waitUntil } from './helpers/backend.js'
import { gauntlet, suite } from './helpers/cases.js'
import { STACK_FRAME, show } from './helpers/world.js'

/**
 * A guest that writes its own workspace drive: root in the VM can overwrite /dev/vdb with any
 * file system it likes, then the VM is killed before its final pull, so the host reads the drive
 * back. The crafted drive has an entry whose name climbs out of any directory into the canary,
 * and a symlink into the canary followed by a regular file of the same name: a reader that
 * follows names or links writes into the canary. The recovery must be refused (or confined to
 * the mirror), the canary untouched, and the session's history intact.
 */

const CRAFTED = 'crafted.img'
/** In the guest, as root: the image out of /workspace, the mount frozen, then the raw write. */
const OVERWRITE = [
  `cp ${CRAFTED} /tmp/${CRAFTED}`,
  'cd /',
  'dev=$(awk \'$2 == "/workspace" { print $1 }\' /proc/mounts)',
  'mount -o remount,ro /workspace && echo "workspace read-only"',
  `dd if=/tmp/${CRAFTED} of="$dev" bs=64k conv=fsync 2>&1 | tail -1`,
  'echo "drive written"',
  'sleep 600',
].join('\n')

suite('attack', (backend) => {
  gauntlet(
    backend,
    'guest-written drive recovery: a crafted ext4 image on its own drive, then the VM killed',
    async (w, c) => {
      const secret = path.join(w.canary, 'secret.txt')
      const escape = path.join(w.canary, 'escaped-by-drive.txt')
      const image = await craftHostileDrive(
        w.root,
        { linkTarget: secret, escapeTarget: escape },
        { sizeMib: 4, blockSize: 1024 },
      )
      await writeFile(path.join(w.project, CRAFTED), await readFile(image))
      await w.rebaseProject()
      const child = w.start(['exec', '--', 'sh', '-c', OVERWRITE])
      let stdout = ''
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString()
      })
      const id = await waitUntil(
        'the guest overwriting its drive',
        async () => (stdout.includes('drive written') ? (await w.sessionIds())[0] : undefined),
        180_000,
      )
      c.note(`guest: ${stdout.trim().split('\n').join('; ')}`)
      await w.probe.killFromOutside(id, w.env)
      const done = await child
      const stderr = String(done.stderr)
      expect(stderr).not.toMatch(STACK_FRAME)
      expect(done.exitCode, stderr).toBe(70)

      // Nothing reached the canary: neither the climbing name nor the write through the link.
      expect(existsSync(escape)).toBe(false)
      expect(await readFile(secret, 'utf8')).toBe(`host secret ${w.token}\n`)
      // The mirror and the history hold what they held before the drive was overwritten.
      const mirror = w.workDir(id)
      expect(existsSync(path.join(mirror, 'd'))).toBe(false)
      expect((await readFile(path.join(mirror, CRAFTED))).equals(await readFile(image))).toBe(true)
      // Nothing came from the drive, so the command left nothing to record.
      const log = await w.log(id)
      c.note(
        `history: ${log.length} commit(s); exec stderr: ${stderr.trim().split('\n').join(' ').slice(0, 160)}`,
      )
      expect(log.filter((e) => e.trailers.Exit !== undefined)).toEqual([])
      const paths = log.flatMap((e) => e.files.map((f) => f.path))
      expect(paths.filter((p) => p.startsWith('d/') || p.includes('..'))).toEqual([])
      const gc = await w.gc()
      expect(gc.exitCode, show(gc)).toBe(0)
    },
    {
      timeoutMs: 300_000,
      requires: (b) =>
        Promise.resolve(
          b === 'qemu' || b === 'firecracker' ? undefined : 'microVM backends only (a drive)',
        ),
    },
  )
})
