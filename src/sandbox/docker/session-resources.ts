import type Docker from 'dockerode'
import { SafeCoderError } from '../../shared/errors.js'
import { engineMessage, statusOf } from './engine-errors.js'
import { LABEL, ownerFilter, type Owner } from './labels.js'

/**
 * Removes the egress proxy, network proof and networks of one owner (found by label, so also
 * what a crash or a half-finished create left), disconnecting whatever else joined them. Never
 * the sandbox.
 */
export async function removeSessionResources(docker: Docker, owner: Owner): Promise<void> {
  const filters = ownerFilter(owner)
  const helpers = await docker.listContainers({
    all: true,
    filters: { label: [...filters, LABEL.role] },
  })
  await Promise.all(
    helpers
      .filter((c) => c.Labels[LABEL.role] !== 'sandbox')
      .map((c) =>
        ignoreGone(docker.getContainer(c.Id).remove({ force: true, v: true }), 'helper', c.Id),
      ),
  )
  const networks = await docker.listNetworks({ filters: { label: filters } })
  await Promise.all(networks.map((n) => removeNetwork(docker, n.Id)))
}

async function removeNetwork(docker: Docker, id: string): Promise<void> {
  const network = docker.getNetwork(id)
  const info = await ignoreGone(network.inspect(), 'network', id)
  for (const container of Object.keys(info?.Containers ?? {})) {
    // Whatever joined it; should this fail, `remove` says why.
    await network.disconnect({ Container: container, Force: true }).catch(() => undefined)
  }
  await ignoreGone(network.remove(), 'network', id)
}

async function ignoreGone<T>(
  promise: Promise<T>,
  what: 'helper' | 'network',
  id: string,
): Promise<T | undefined> {
  try {
    return await promise
  } catch (error) {
    if (statusOf(error) === 404) return undefined
    throw new SafeCoderError(
      'SANDBOX_FAILED',
      `Cannot remove the ${what === 'helper' ? 'egress proxy or network proof container' : 'network'} ${id.slice(0, 12)}: ${engineMessage(error)}.`,
      {
        hint: 'Check that the engine is healthy (`docker info`), then run `safe-coder gc`.',
        cause: error,
        data: { id },
      },
    )
  }
}
