import type { Config } from './schema.js'

/**
 * A secret as it may be printed: the public `sk-` prefix, then at most the last 4 characters,
 * and those only for keys long enough that 4 characters give nothing away.
 */
export function redactSecret(secret: string): string {
  const prefix = secret.startsWith('sk-') ? 'sk-' : ''
  const tail = secret.length >= 16 ? secret.slice(-4) : ''
  return `${prefix}…${tail}`
}

/** A copy of the configuration that is safe to print: API key and URL passwords hidden. */
export function redactConfig(config: Config): Config {
  const llm = { ...config.llm }
  if (llm.api_key !== undefined) llm.api_key = redactSecret(llm.api_key)
  if (llm.base_url !== undefined) llm.base_url = redactUrlPassword(llm.base_url)
  return {
    ...config,
    llm,
    image: { ...config.image, mirror: redactUrlPassword(config.image.mirror) },
  }
}

// `https://user:token@host/` is a common way to hand a proxy or mirror its credentials.
function redactUrlPassword(text: string): string {
  try {
    const url = new URL(text)
    if (url.password === '') return text
    url.password = '***'
    return url.toString()
  } catch {
    return text
  }
}
