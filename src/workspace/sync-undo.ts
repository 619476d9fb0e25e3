import { SafeCoderError } from '../shared/errors.js'
import { rollBack } from './journal-rollback.js'
import { interruptedJournals, readJournal } from './journal.js'

// Undo is the user's way back: the project returns byte-for-byte to what it was before the sync.
export async function runUndo(options: {
  journalDir: string
  id: string
  projectDir: string
}): Promise<{ restored: string[] }> {
  const journal = await readJournal(options.journalDir, options.id)
  const { record, state } = journal
  if (record.projectDir !== options.projectDir) {
    throw new SafeCoderError(
      'USAGE',
      `Sync undo refused: sync ${record.id} changed ${record.projectDir}, not ${options.projectDir}.`,
      { hint: 'Run the undo for the project that sync changed.', data: { id: record.id } },
    )
  }
  if (state === 'prepared' || state === 'rolled-back' || state === 'undone') {
    const why = state === 'prepared' ? 'never changed anything' : `was already ${state}`
    throw new SafeCoderError('USAGE', `Sync undo refused: sync ${record.id} ${why}.`, {
      hint: 'Nothing to restore; `safe-coder sessions` lists what is pending.',
      data: { id: record.id, state },
    })
  }
  return { restored: await rollBack(journal, 'undone', 'Sync undo') }
}

// A sync killed half-way leaves the project mixed; rolling back is the state the user knew.
export async function runRecover(options: {
  journalDir: string
  projectDir: string
}): Promise<{ recovered?: string; action?: 'rolled-back' | 'completed' }> {
  const interrupted = await interruptedJournals(options.journalDir, options.projectDir)
  let recovered: string | undefined
  for (const journal of interrupted.reverse()) {
    await rollBack(journal, 'rolled-back', 'Sync recovery')
    recovered ??= journal.record.id
  }
  return recovered === undefined ? {} : { recovered, action: 'rolled-back' }
}
