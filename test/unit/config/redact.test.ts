import { describe, expect, it } from 'vitest'
import { redactConfig, redactSecret } from '../../../src/config/index.js'
import { defaultConfig } from '../../../src/config/schema-info.js'

describe('redactSecret', () => {
  it('keeps the sk- prefix and at most the last 4 characters', () => {
    expect(redactSecret('sk-ant-api03-0123456789abcd')).toBe('sk-…abcd')
    expect(redactSecret('0123456789abcdefWXYZ')).toBe('…WXYZ')
  })

  it('shows nothing of a short key', () => {
    expect(redactSecret('sk-short1')).toBe('sk-…')
    expect(redactSecret('hunter2')).toBe('…')
  })
})

describe('redactConfig', () => {
  it('hides the API key and passwords in URLs, and leaves the rest alone', () => {
    const config = defaultConfig()
    config.llm.api_key = 'sk-or-v1-0123456789abcdef'
    config.llm.base_url = 'https://me:s3cret@proxy.example/v1'
    const redacted = redactConfig(config)
    expect(redacted.llm.api_key).toBe('sk-…cdef')
    expect(redacted.llm.base_url).toBe('https://me:***@proxy.example/v1')
    expect(redacted.image.mirror).toBe(config.image.mirror)
    expect(config.llm.api_key).toBe('sk-or-v1-0123456789abcdef')
  })
})
