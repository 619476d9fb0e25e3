import { createServer, type Server } from 'node:net'
import { createSocket } from 'node:dgram'
import { link, lstat, mkdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import { expect } from 'vitest'
import { call, outputText, runScripted, toolResults } from './helpers/agent.js'
import { PRELUDE, expectAllBlocked, guestNote, q } from './helpers/attempts.js'
import { gauntlet, suite } from './helpers/cases.js'
import { sha256 } from './helpers/hash.js'
import { STACK_FRAME, show, type World } from './helpers/world.js'

/**
 * Escape attempts from inside the sandbox, as the agent would make them: shell commands through
 * `safe-coder exec` and tool calls of a scripted agent (`run --demo-script`). Every case then
 * checks the host (canary, dotfiles, project, leftovers, history, the canary's token nowhere in
 * the session's state).
 */

/** Runs an attack script through `exec` in a new session; the script's own exit is 0. */
async function attack(world: World, script: string) {
  const result = await world.exec(PRELUDE + script)
  expect(result.exitCode, show(result)).toBe(0)
  return result
}

suite('attack', (backend) => {
  gauntlet(backend, 'read host files by absolute path (exec)', async (w, c) => {
    const r = await attack(
      w,
      `
attempt canary-file cat ${q(`${w.canary}/secret.txt`)}
attempt canary-link cat ${q(`${w.canary}/link`)}
attempt canary-dir ls ${q(w.canary)}
attempt home-ssh-key cat ${q(`${w.home}/.ssh/id_ed25519`)}
attempt home-bashrc cat ${q(`${w.home}/.bashrc`)}
attempt host-project cat ${q(`${w.project}/hello.txt`)}
attempt state-dir ls ${q(w.stateHome)}
attempt proc1-root cat ${q(`/proc/1/root${w.canary}/secret.txt`)}
found token-anywhere grep -rlsF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -- ${w.tokenExpr} /
`,
    )
    const attempts = expectAllBlocked(r, [
      'canary-file',
      'canary-link',
      'canary-dir',
      'home-ssh-key',
      'home-bashrc',
      'host-project',
      'state-dir',
      'proc1-root',
      'token-anywhere',
    ])
    c.note(
      `${attempts.size} reads refused; the canary's token is nowhere in the sandbox's file system`,
    )
  })

  gauntlet(backend, 'read host files through `..` (exec)', async (w, c) => {
    const r = await attack(
      w,
      `
attempt dotdot-absolute cat ${q(`/workspace/../../..${w.canary}/secret.txt`)}
attempt dotdot-relative bash -c ${q(`cd /workspace && cat ../../../..${w.canary}/secret.txt`)}
attempt dotdot-sibling cat /workspace/../canary/secret.txt
found parent-is-host bash -c 'ls -a /workspace/.. | grep -x -e canary -e project -e scripts'
found mounts-name-host bash -c ${q(`grep -F -e ${w.canary} -e ${w.project} /proc/self/mountinfo`)}
`,
    )
    expectAllBlocked(r, [
      'dotdot-absolute',
      'dotdot-relative',
      'dotdot-sibling',
      'parent-is-host',
      'mounts-name-host',
    ])
    const mirrorShown = /\/workspace/.test(
      (await w.exec('grep -F " /workspace " /proc/self/mountinfo', { session: r.id })).stdout,
    )
    c.note(
      `/workspace/.. is the sandbox root; no mount names the project or the canary${mirrorShown ? " (mountinfo does show the mirror's host path, which names the user's HOME: an information leak, not an escape)" : ''}`,
    )
  })

  gauntlet(
    backend,
    'read and write host files by absolute path and `..` (agent tools)',
    async (w, c) => {
      const secret = `${w.canary}/secret.txt`
      const { result, summary, id } = await runScripted(w, [
        {
          tool_calls: [
            { tool: 'read_file', input: { path: secret } },
            { tool: 'read_file', input: { path: '../canary/secret.txt' } },
            { tool: 'read_file', input: { path: `../../../..${secret}` } },
            { tool: 'read_file', input: { path: 'src/../../canary/secret.txt' } },
            { tool: 'read_file', input: { path: '/workspace/../etc/passwd' } },
            { tool: 'list_dir', input: { path: '..' } },
            { tool: 'list_dir', input: { path: w.canary } },
            { tool: 'glob', input: { pattern: '**/*', path: '..' } },
            { tool: 'grep', input: { pattern: 'host secret', path: '/' } },
            { tool: 'grep', input: { pattern: 'host secret', path: '../canary' } },
            { tool: 'write_file', input: { path: '../canary/pwned.txt', content: 'pwned\n' } },
            { tool: 'write_file', input: { path: `${w.canary}/pwned.txt`, content: 'pwned\n' } },
            { tool: 'write_file', input: { path: `${w.project}/pwned.txt`, content: 'pwned\n' } },
            {
              tool: 'edit_file',
              input: { path: '../canary/secret.txt', old_string: 'host', new_string: 'pwned' },
            },
          ],
        },
        call('bash', {
          command: `cat ${q(secret)}; ls ${q(w.canary)}; cat /proc/1/root${q(secret)}`,
        }),
        { text: 'done' },
      ])
      expect(result.exitCode, show(result)).toBe(0)
      expect(summary?.ok).toBe(true)
      const results = await toolResults(w, id)
      const refused = results.filter((r) => r.toolName !== 'bash')
      expect(refused).toHaveLength(14)
      for (const r of refused) {
        expect(r.isError, `${r.toolName}: ${outputText(r)}`).toBe(true)
        expect(outputText(r)).toMatch(/refused|outside|not allowed|leads out/i)
      }
      const bash = results.find((r) => r.toolName === 'bash')
      expect(outputText(bash ?? { toolCallId: '', toolName: '', output: '' })).toMatch(
        /No such file/,
      )
      c.note(
        `14 file-tool calls refused as tool errors ("${outputText(refused[0] ?? refused[1] ?? { toolCallId: '', toolName: '', output: '' }).slice(0, 50)}…"); bash sees no host path`,
      )
    },
  )

  gauntlet(backend, 'write through a symlink planted in the workspace, then sync', async (w, c) => {
    const secret = `${w.canary}/secret.txt`
    // Shell: links to host paths; writing through them lands in the sandbox's own file system.
    const r = await attack(
      w,
      `
ln -s ${q(secret)} link-abs
ln -s ../canary/secret.txt link-rel
ln -s ${q(w.canary)} dir-link
ln -s /etc/passwd pw
attempt write-through-abs bash -c 'echo pwned > link-abs && test -e ${q(secret)} && grep -q pwned /workspace/link-abs && ls ${q(w.canary)} | grep -q nested'
attempt write-through-dir bash -c 'mkdir -p dir-link/nested 2>/dev/null; echo pwned > dir-link/secret.txt && ls ${q(w.canary)}/nested | grep -q deep'
echo pwned >> pw 2>/dev/null; true
`,
    )
    expectAllBlocked(r, ['write-through-abs', 'write-through-dir'])
    // Tools: a write to a link replaces the link; an edit through it is refused.
    const agent = await runScripted(
      w,
      [
        {
          tool_calls: [
            { tool: 'write_file', input: { path: 'link-rel', content: 'replaced\n' } },
            {
              tool: 'edit_file',
              input: { path: 'link-abs', old_string: 'host', new_string: 'pwned' },
            },
            { tool: 'write_file', input: { path: 'dir-link/pwned.txt', content: 'pwned\n' } },
            { tool: 'read_file', input: { path: 'link-abs' } },
          ],
        },
        { text: 'done' },
      ],
      { session: r.id },
    )
    expect(agent.result.exitCode, show(agent.result)).toBe(0)
    const results = await toolResults(w, r.id)
    const byCall = new Map(results.map((x) => [x.toolCallId, x]))
    expect(byCall.size).toBe(4)
    const [writeLink, editLink, writeDirLink] = results
    expect(
      writeLink?.isError ?? false,
      outputText(writeLink ?? { toolCallId: '', toolName: '', output: '' }),
    ).toBe(false)
    expect(editLink?.isError).toBe(true)
    expect(writeDirLink?.isError).toBe(true)
    const work = w.workDir(r.id)
    expect((await lstat(path.join(work, 'link-rel'))).isFile()).toBe(true)
    // Sync: links to host paths are refused, the replaced file comes back as a file.
    const plan = await w.cli(['sync', r.id, '--dry-run'])
    expect(plan.stdout, show(plan)).toMatch(/link-abs.*refused/)
    expect(plan.stdout).toMatch(/dir-link.*refused/)
    expect(plan.stdout).toMatch(/pw.*refused/)
    const sync = await w.cli(['sync', r.id, '--yes'])
    expect(sync.exitCode, show(sync)).toBe(0)
    for (const name of ['link-abs', 'dir-link', 'pw'])
      await expect(lstat(path.join(w.project, name)), name).rejects.toThrow()
    expect(await readFile(path.join(w.project, 'link-rel'), 'utf8')).toBe('replaced\n')
    await w.rebaseProject()
    c.note(
      'writes through links stay in the sandbox; write_file replaces the link; sync refuses links that leave the project',
    )
  })

  gauntlet(
    backend,
    'sync after a project directory became a symlink to a host path',
    async (w, c) => {
      // The agent adds docs/secret.txt; meanwhile on the host docs/ is replaced by a link to the
      // canary (a race the user cannot see). Sync must not write through it.
      await mkdir(path.join(w.project, 'docs'))
      await writeFile(path.join(w.project, 'docs/guide.md'), 'guide\n')
      await w.rebaseProject()
      const r = await attack(w, `echo pwned > docs/secret.txt; echo more >> docs/guide.md`)
      await rm(path.join(w.project, 'docs'), { recursive: true })
      await symlink('../canary', path.join(w.project, 'docs'))
      await w.rebaseProject()
      const sync = await w.cli(['sync', r.id, '--yes'])
      expect(sync.stderr).not.toMatch(STACK_FRAME)
      expect([0, 65]).toContain(sync.exitCode)
      expect(sync.stdout).toMatch(/docs\/secret\.txt.*(refused|conflict)/)
      expect(await readlink(path.join(w.project, 'docs'))).toBe('../canary')
      c.note(
        `sync exit ${sync.exitCode}: "${
          sync.stdout
            .split('\n')
            .find((l) => /docs\/secret/.test(l))
            ?.trim() ?? ''
        }"`,
      )
      // The canary check after every case proves nothing was written through the link.
    },
  )

  gauntlet(
    backend,
    'sync of a project symlink the agent replaced with a directory',
    async (w, c) => {
      // The user's project holds a link to a host directory; the agent replaces it with a real
      // directory. Sync must replace the link (never follow it) and apply the directory's files.
      await symlink('../canary', path.join(w.project, 'shared'))
      await w.rebaseProject()
      const r = await attack(
        w,
        `
attempt link-resolves-inside test -e shared/secret.txt
rm shared && mkdir shared && echo pwned > shared/secret.txt && echo new > shared/new.txt
`,
      )
      expectAllBlocked(r, ['link-resolves-inside'])
      const sync = await w.cli(['sync', r.id, '--yes'])
      await w.rebaseProject()
      expect(sync.exitCode, show(sync)).toBe(0)
      c.note(
        `first sync: ${sync.stdout
          .split('\n')
          .filter((l) => /shared/.test(l))
          .map((l) => l.trim())
          .join('; ')}`,
      )
      const isDir = await lstat(path.join(w.project, 'shared')).then(
        (s) => s.isDirectory(),
        () => false,
      )
      const listed = await w.sessions()
      c.note(
        `after it: shared/ ${isDir ? 'is a directory' : 'is missing'}; \`sessions\` says ${listed.sessions[0]?.unsynced === true ? 'unsynced' : 'synced'}`,
      )
      expect(isDir, "the session's shared/ directory reached the project").toBe(true)
      expect(await readFile(path.join(w.project, 'shared/new.txt'), 'utf8')).toBe('new\n')
    },
  )

  gauntlet(
    backend,
    'hard links: to sandbox files, and a project file hard-linked to a host file',
    async (w, c) => {
      // A project file that is a hard link to a file outside it (same inode): neither the sandbox's
      // writes nor the sync may change the outside file.
      const outside = path.join(w.canary, 'hardlinked.txt')
      await writeFile(outside, 'shared inode\n')
      await link(outside, path.join(w.project, 'hl.txt'))
      await w.rebase()
      const r = await attack(
        w,
        `
attempt link-etc-passwd ln /etc/passwd pw-hard
attempt link-proc ln /proc/1/environ env-hard
ln hello.txt hello-hard
echo pwned > hl.txt
echo changed >> hello-hard
`,
      )
      expectAllBlocked(r, ['link-etc-passwd', 'link-proc'])
      expect(await readFile(outside, 'utf8')).toBe('shared inode\n')
      const sync = await w.cli(['sync', r.id, '--yes'])
      expect(sync.exitCode, show(sync)).toBe(0)
      expect(await readFile(outside, 'utf8')).toBe('shared inode\n')
      expect(await readFile(path.join(w.project, 'hl.txt'), 'utf8')).toBe('pwned\n')
      const a = await lstat(path.join(w.project, 'hello.txt'))
      const b = await lstat(path.join(w.project, 'hello-hard'))
      expect(a.ino).not.toBe(b.ino)
      await w.rebaseProject()
      c.note(
        'cross-device links fail (EXDEV); the copy-in never shares an inode with the host; sync replaces files atomically, so a host hard link is not written through',
      )
    },
  )

  gauntlet(backend, 'a setuid binary', async (w, c) => {
    const r = await attack(
      w,
      `
cp /usr/bin/id suid-id && chmod 4755 suid-id
cp /usr/bin/id sgid-id && chmod 2755 sgid-id
attempt gain-privilege bash -c './suid-id -u | grep -qv "^$(id -u)$" || grep -q "CapEff:.*[1-9a-f]" /proc/self/status'
attempt no-new-privs-off bash -c 'grep -q "NoNewPrivs:.*0" /proc/self/status'
`,
    )
    const privileges = expectAllBlocked(r, ['gain-privilege', 'no-new-privs-off'], backend)
    const [last] = await w.log(r.id)
    const modes = new Map(last?.files.map((f) => [f.path, f.newMode]))
    expect(modes.get('suid-id')).toBe(0o100755)
    expect(modes.get('sgid-id')).toBe(0o100755)
    const sync = await w.cli(['sync', r.id, '--yes'])
    expect(sync.exitCode, show(sync)).toBe(0)
    expect((await lstat(path.join(w.project, 'suid-id'))).mode & 0o7777).toBe(0o755)
    expect((await lstat(path.join(w.project, 'sgid-id'))).mode & 0o7777).toBe(0o755)
    const mirror = (await lstat(path.join(w.workDir(r.id), 'suid-id'))).mode & 0o7777
    const sessionDir = (await lstat(path.join(w.sessionsDir, r.id))).mode & 0o777
    expect(sessionDir & 0o077).toBe(0)
    await w.rebaseProject()
    c.note(
      `history and sync drop the bits (100755); the mirror copy keeps mode ${mirror.toString(8)} inside a ${sessionDir.toString(8)} session folder${guestNote(privileges)}`,
    )
  })

  gauntlet(backend, 'device nodes (mknod) and special files', async (w, c) => {
    const r = await attack(
      w,
      `
attempt mknod-char mknod null2 c 1 3
attempt mknod-block mknod disk b 8 0
attempt mknod-mem mknod mem c 1 1
found host-disk-devices bash -c 'ls /dev | grep -E "^(sd|vd|nvme|xvd|mem$|kmem$|port$|kmsg$)"'
mkfifo fifo
echo changed > hello.txt
`,
    )
    const devices = expectAllBlocked(
      r,
      ['mknod-char', 'mknod-block', 'mknod-mem', 'host-disk-devices'],
      backend,
    )
    expect(r.stderr).toMatch(/not recorded: "fifo" \(fifo\)/)
    c.note(
      devices.allowedInGuest?.length === 0
        ? 'mknod: Operation not permitted (no CAP_MKNOD); no disk or memory devices in /dev; a FIFO is reported, not recorded'
        : `a FIFO is reported, not recorded${guestNote(devices)}`,
    )
  })

  gauntlet(backend, 'a FIFO that is the only thing a command leaves is reported', async (w, c) => {
    const r = await w.exec('mkfifo fifo')
    expect(r.exitCode, show(r)).toBe(0)
    c.note('docs/review-and-sync.md: FIFOs, sockets and devices are skipped and reported')
    expect(r.stderr, show(r)).toMatch(/not recorded: "fifo" \(fifo\)/)
  })

  gauntlet(backend, 'mount, unshare, chroot and namespace tricks', async (w, c) => {
    const r = await attack(
      w,
      `
attempt mount-tmpfs mount -t tmpfs x /mnt
attempt mount-bind mount --bind / /mnt
attempt mount-proc mount -t proc proc /mnt
attempt remount-sys mount -o remount,rw /sys
attempt unshare-user unshare -r true
attempt unshare-mount unshare -m true
attempt unshare-net unshare -n true
attempt unshare-pid unshare -p -f true
attempt nsenter-pid1 nsenter -t 1 -m -u -n -i true
attempt chroot chroot / true
attempt setpriv-caps setpriv --inh-caps=+sys_admin --ambient-caps=+sys_admin true
`,
    )
    const mounts = expectAllBlocked(
      r,
      [
        'mount-tmpfs',
        'mount-bind',
        'mount-proc',
        'remount-sys',
        'unshare-user',
        'unshare-mount',
        'unshare-net',
        'unshare-pid',
        'nsenter-pid1',
        'chroot',
        'setpriv-caps',
      ],
      backend,
    )
    c.note(
      mounts.allowedInGuest?.length === 0
        ? 'all refused (EPERM: no capabilities, seccomp)'
        : `no host effect${guestNote(mounts)}`,
    )
  })

  gauntlet(backend, 'ptrace, /proc/1/root, /proc/self/exe and kernel knobs', async (w, c) => {
    // A host process the sandbox must not see or trace.
    const marker = `9${String(Date.now()).slice(-6)}.5`
    const sleeper = execa('sleep', [marker], { reject: false })
    try {
      const hostPid = sleeper.pid ?? 0
      const binaries = await hostBinaries()
      const r = await attack(
        w,
        `
attempt ptrace-host-pid perl -e 'my $r = syscall(101, 16, ${hostPid}, 0, 0); exit($r == -1 ? 1 : 0)'
found host-process-visible bash -c 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f" 2>/dev/null; echo; done | grep -E "^sleep [0-9]+[.]5 ?$"'
found host-env-visible bash -c 'cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n" | grep -F -e ${q(w.root)}'
attempt proc1-root-host cat ${q(`/proc/1/root${w.canary}/secret.txt`)}
attempt proc1-cwd-host bash -c 'ls /proc/1/cwd/ | grep -qx canary'
attempt write-self-exe bash -c 'echo x >> /proc/self/exe'
attempt write-all-exe bash -c 'ok=1; for f in /proc/[0-9]*/exe; do echo x 2>/dev/null >> "$f" && ok=0; done; exit $ok'
attempt core-pattern bash -c 'echo "|/tmp/x" > /proc/sys/kernel/core_pattern'
attempt sysrq bash -c 'echo h > /proc/sysrq-trigger'
attempt release-agent bash -c 'for f in /sys/fs/cgroup/*/release_agent /sys/fs/cgroup/release_agent; do [ -e "$f" ] && echo /x > "$f" && exit 0; done; exit 1'
attempt modprobe bash -c 'echo /tmp/x > /proc/sys/kernel/modprobe'
`,
      )
      const knobs = expectAllBlocked(
        r,
        [
          'ptrace-host-pid',
          'host-process-visible',
          'host-env-visible',
          'proc1-root-host',
          'proc1-cwd-host',
          'write-self-exe',
          'write-all-exe',
          'core-pattern',
          'sysrq',
          'release-agent',
          'modprobe',
        ],
        backend,
      )
      expect(await hostBinaries()).toEqual(binaries)
      c.note(
        knobs.allowedInGuest?.length === 0
          ? `ptrace of host pid ${hostPid}: ESRCH (other pid namespace); /proc/*/exe not writable; /proc/sys and /sys read-only; host runc/containerd/dockerd/node binaries unchanged`
          : `host pid ${hostPid} invisible and untraceable; host binaries unchanged${guestNote(knobs)}`,
      )
    } finally {
      sleeper.kill('SIGKILL')
      await sleeper
    }
  })

  gauntlet(
    backend,
    'the runtime binary overwrite (CVE-2019-5736 pattern) during later tool calls',
    async (w, c) => {
      const binaries = await hostBinaries()
      // The first call leaves a loop that tries to write every /proc/*/exe it sees, while later
      // calls make the runtime enter the sandbox again.
      const { result, summary } = await runScripted(w, [
        call('bash', {
          command:
            'setsid nohup bash -c \'end=$((SECONDS+20)); while [ $SECONDS -lt $end ]; do for f in /proc/[0-9]*/exe; do echo x 2>/dev/null >> "$f" && echo "wrote $f" >> /tmp/wrote; done; done\' >/dev/null 2>&1 & echo started',
        }),
        call('bash', { command: 'sleep 1; echo second' }),
        call('bash', { command: 'echo third; cat /tmp/wrote 2>/dev/null | head -3' }),
        call('bash', { command: 'ls /workspace >/dev/null; echo fourth' }),
        call('bash', { command: 'sleep 1; cat /tmp/wrote 2>/dev/null | wc -l' }),
        { text: 'done' },
      ])
      expect(result.exitCode, show(result)).toBe(0)
      expect(summary?.toolCalls).toBe(5)
      expect(await hostBinaries()).toEqual(binaries)
      c.note(
        'host runc, containerd-shim, dockerd, docker-init and node unchanged after 4 exec entries with the writer running',
      )
    },
  )

  gauntlet(backend, 'the Docker socket and the engine API', async (w, c) => {
    const r = await attack(
      w,
      `
attempt socket-var-run test -S /var/run/docker.sock
attempt socket-run test -S /run/docker.sock
found any-engine-socket bash -c 'find / -xdev \\( -name docker.sock -o -name containerd.sock -o -name podman.sock \\) 2>/dev/null'
found any-socket bash -c 'find / -path /proc -prune -o -type s -print 2>/dev/null'
attempt curl-socket curl -s --max-time 3 --unix-socket /var/run/docker.sock http://x/version
attempt tcp-2375 timeout 3 bash -c 'echo > /dev/tcp/172.17.0.1/2375'
attempt tcp-2376 timeout 3 bash -c 'echo > /dev/tcp/172.17.0.1/2376'
found docker-env bash -c 'env | grep -i -e docker_host -e containerd'
`,
    )
    expectAllBlocked(r, [
      'socket-var-run',
      'socket-run',
      'any-engine-socket',
      'any-socket',
      'curl-socket',
      'tcp-2375',
      'tcp-2376',
      'docker-env',
    ])
    c.note('no engine socket anywhere, no TCP route to the engine ports')
  })

  gauntlet(backend, 'reach the host or the internet (TCP, UDP, ICMP, DNS)', async (w, c) => {
    const tcp = await listen()
    const udp = createSocket('udp4')
    let datagrams = 0
    udp.on('message', () => datagrams++)
    await new Promise<void>((resolve) => udp.bind(0, '0.0.0.0', resolve))
    const udpPort = udp.address().port
    try {
      const addresses = hostAddresses()
      const lines = addresses
        .flatMap((ip, i) => [
          `attempt tcp-host-${i} timeout 3 bash -c ${q(`echo hi > /dev/tcp/${ip}/${tcp.port}`)}`,
          // The sandbox's own 127.0.0.1 accepts a UDP send; what counts is that the host's
          // socket receives nothing (checked below).
          ...(ip === '127.0.0.1'
            ? []
            : [
                `attempt udp-host-${i} timeout 3 bash -c ${q(`echo hi > /dev/udp/${ip}/${udpPort} && sleep 0.2 && echo hi > /dev/udp/${ip}/${udpPort}`)}`,
              ]),
        ])
        .join('\n')
      const r = await attack(
        w,
        `
${lines}
attempt tcp-internet timeout 5 bash -c 'echo > /dev/tcp/192.0.2.1/443'
attempt http-internet curl -s --max-time 5 http://198.51.100.1/
attempt https-name curl -s --max-time 5 https://example.invalid/
attempt tcp-metadata timeout 3 bash -c 'echo > /dev/tcp/169.254.169.254/80'
attempt udp-dns-public timeout 3 bash -c 'echo x > /dev/udp/203.0.113.53/53'
attempt dns-getent getent hosts example.invalid
attempt dns-ahosts getent ahosts deb.debian.org
attempt icmp-raw perl -MSocket -e 'socket(S, PF_INET, SOCK_RAW, 1) or exit 1'
attempt icmp-dgram perl -MSocket -e 'socket(S, PF_INET, SOCK_DGRAM, 1) or exit 1; send(S, "\\x08\\x00\\xf7\\xff\\x00\\x00\\x00\\x00", 0, sockaddr_in(0, inet_aton("192.0.2.1"))) or exit 1'
attempt ipv6-internet timeout 3 bash -c 'echo > /dev/tcp/2001:db8::1/443'
found routes bash -c 'tail -n +2 /proc/net/route; ip -6 route 2>/dev/null | grep -v "^$"'
found interfaces bash -c 'ls /sys/class/net | grep -vx lo'
`,
      )
      const net = expectAllBlocked(
        r,
        [
          ...addresses.flatMap((ip, i) => [
            `tcp-host-${i}`,
            ...(ip === '127.0.0.1' ? [] : [`udp-host-${i}`]),
          ]),
          'tcp-internet',
          'http-internet',
          'https-name',
          'tcp-metadata',
          'udp-dns-public',
          'dns-getent',
          'dns-ahosts',
          'icmp-raw',
          'icmp-dgram',
          'ipv6-internet',
          'routes',
          'interfaces',
        ],
        backend,
      )
      expect(tcp.connections(), 'TCP connections that reached the host listener').toBe(0)
      expect(datagrams, 'UDP datagrams that reached the host').toBe(0)
      c.note(
        `host addresses tried: ${addresses.join(', ')}; listener saw 0 TCP connections, 0 UDP datagrams; only lo, no routes${guestNote(net)}`,
      )
    } finally {
      await tcp.close()
      udp.close()
    }
  })
})

/** Hashes of the host binaries a container escape would overwrite. */
async function hostBinaries(): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const names = [
    'runc',
    'docker-runc',
    'containerd',
    'containerd-shim',
    'containerd-shim-runc-v2',
    'dockerd',
    'docker-init',
    'docker-proxy',
  ]
  for (const name of names) {
    const which = await execa('bash', ['-c', `command -v ${name}`], { reject: false })
    const file = which.stdout.trim()
    if (which.exitCode !== 0 || file === '') continue
    out[name] = sha256(await readFile(file))
  }
  out.node = sha256(await readFile(process.execPath))
  return out
}

/** Every IPv4 address of the host, plus the Docker bridge gateway and loopback. */
function hostAddresses(): string[] {
  const all = new Set<string>(['127.0.0.1', '172.17.0.1'])
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4') all.add(a.address)
  return [...all]
}

async function listen(): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  let count = 0
  const server: Server = createServer((socket) => {
    count++
    socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      }),
  }
}
