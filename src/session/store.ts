import { appendFile, mkdir, readdir, readFile } from 'node:fs/promises'
import os from 'node:os'
import type { BackendKind } from '../sandbox/types.js'
import { SafeCoderError, errnoOf } from '../shared/errors.js'
import { createId } from '../shared/ids.js'
import { writeFileAtomic } from '../shared/durable-file.js'
import { isSessionId, sessionPaths, sessionsDir, type SessionPaths } from './paths.js'
import { parseSessionRecord, type SessionRecord } from './record.js'

/** The sessions under one state directory: session.json files written atomically, events appended. */
export class SessionStore {
  constructor(readonly stateDir: string) {}

  paths(id: string): SessionPaths {
    if (!isSessionId(id)) {
      throw new SafeCoderError('USAGE', `${JSON.stringify(id)} is not a session id.`, {
        hint: 'Session ids look like s-mwzliddn-c2edd31d; `safe-coder sessions` lists them.',
      })
    }
    return sessionPaths(this.stateDir, id)
  }

  /**
   * A new session's folder and record, with where it runs (its backend, and on Docker-API
   * backends the engine); the caller fills the mirror and the audit repo.
   */
  async create(projectPath: string, backend: BackendKind, engine?: string): Promise<SessionRecord> {
    const id = createId('s')
    const paths = this.paths(id)
    await mkdir(paths.dir, { recursive: true, mode: 0o700 })
    const now = new Date().toISOString()
    const record: SessionRecord = {
      version: 1,
      id,
      projectPath,
      backend,
      ...(engine === undefined ? {} : { engine }),
      status: 'active',
      createdAt: now,
      updatedAt: now,
      ownerPid: process.pid,
      ownerHost: os.hostname(),
      commits: 0,
    }
    await this.write(record)
    return record
  }

  async read(id: string): Promise<SessionRecord> {
    const paths = this.paths(id)
    let text: string
    try {
      text = await readFile(paths.sessionFile, 'utf8')
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') {
        throw new SafeCoderError(
          'NOT_FOUND',
          `No session ${id} in ${sessionsDir(this.stateDir)}.`,
          {
            hint: '`safe-coder sessions` lists the sessions there are.',
            data: { sessionId: id },
          },
        )
      }
      throw error
    }
    const parsed = parseSessionRecord(safeJson(text))
    if (!parsed.ok) {
      throw new SafeCoderError(
        'INTERNAL',
        `Session file ${paths.sessionFile} is damaged: ${parsed.message}.`,
        {
          hint: `Its work is still in ${paths.work} and its history in ${paths.gitdir}.`,
        },
      )
    }
    return parsed.record
  }

  /** Replaces session.json atomically, stamping updatedAt. */
  async write(record: SessionRecord): Promise<SessionRecord> {
    const next = { ...record, updatedAt: new Date().toISOString() }
    await writeFileAtomic(this.paths(record.id).sessionFile, `${JSON.stringify(next, null, 2)}\n`)
    return next
  }

  async update(
    id: string,
    change: (record: SessionRecord) => Partial<SessionRecord>,
  ): Promise<SessionRecord> {
    const record = await this.read(id)
    return this.write({ ...record, ...change(record) })
  }

  /** Every readable session, newest first; damaged ones are reported, not hidden. */
  async list(): Promise<{ sessions: SessionRecord[]; damaged: { id: string; message: string }[] }> {
    let names: string[]
    try {
      names = await readdir(sessionsDir(this.stateDir))
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return { sessions: [], damaged: [] }
      throw error
    }
    const sessions: SessionRecord[] = []
    const damaged: { id: string; message: string }[] = []
    const ids = names.filter(isSessionId).sort().reverse()
    // Read a batch at a time: a store of thousands of sessions must not run out of descriptors.
    for (let i = 0; i < ids.length; i += 64) {
      const batch = ids.slice(i, i + 64)
      const read = await Promise.allSettled(batch.map((id) => this.read(id)))
      read.forEach((outcome, j) => {
        if (outcome.status === 'fulfilled') sessions.push(outcome.value)
        else {
          const error: unknown = outcome.reason
          damaged.push({
            id: batch[j] ?? '',
            message: error instanceof Error ? error.message : String(error),
          })
        }
      })
    }
    return { sessions, damaged }
  }

  /** Appends one event line; the file is a log, never rewritten. */
  async appendEvent(id: string, event: Record<string, unknown>): Promise<void> {
    const line = `${JSON.stringify({ at: new Date().toISOString(), ...event })}\n`
    await appendFile(this.paths(id).eventsFile, line, { mode: 0o600 })
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}
