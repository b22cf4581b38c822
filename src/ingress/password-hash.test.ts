import { describe, expect, it } from 'vitest'
import { hashPassword, verifyPassword } from './password-hash.js'

describe('password hashes', () => {
  it('verifies the right password only', () => {
    const hash = hashPassword('correct horse')
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$/)
    expect(hash).not.toContain('correct horse')
    expect(verifyPassword('correct horse', hash)).toBe(true)
    expect(verifyPassword('wrong', hash)).toBe(false)
    expect(verifyPassword('correct horse', 'plain-text')).toBe(false)
  })

  it('salts every hash', () => {
    expect(hashPassword('x')).not.toBe(hashPassword('x'))
  })
})
