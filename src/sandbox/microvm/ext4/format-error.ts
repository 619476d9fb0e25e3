/**
 * A drive that breaks a rule the reader holds it to (a bad name, a block outside the image, an
 * unknown feature). Internal to ext4/: the facade turns it into a refused recovery.
 */
export class DriveFormatError extends Error {
  override readonly name = 'DriveFormatError'
}

export function refuse(reason: string): never {
  throw new DriveFormatError(reason)
}

/** Runs `action`, prefixing a format error's reason with where it happened. */
export async function within<T>(where: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action()
  } catch (error) {
    if (error instanceof DriveFormatError) throw new DriveFormatError(`${where}: ${error.message}`)
    throw error
  }
}
