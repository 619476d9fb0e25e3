import { describe, expect, it } from 'vitest'
import { canonicalIp, ipv6Groups, isPrivateAddress } from '../../../src/network/address.js'

describe('isPrivateAddress', () => {
  const private_ = [
    '127.0.0.1',
    '127.255.255.254',
    '10.0.0.5',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '169.254.0.1',
    '100.64.0.1',
    '100.127.255.255',
    '0.0.0.0',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '::',
    '::1',
    '[::1]',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'fe80::1%eth0',
    'febf::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '0:0:0:0:0:ffff:0a00:0001',
    '::10.0.0.1',
    '64:ff9b::a9fe:a9fe',
    '2002:c0a8:0101::1',
    'not-an-address',
    '',
  ]
  const public_ = [
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '172.15.255.255',
    '172.32.0.1',
    '192.167.1.1',
    '100.63.255.255',
    '100.128.0.1',
    '169.253.1.1',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:0808:0808::1',
    'fbff::1',
  ]
  it.each(private_)('%s is private', (ip) => {
    expect(isPrivateAddress(ip)).toBe(true)
  })
  it.each(public_)('%s is public', (ip) => {
    expect(isPrivateAddress(ip)).toBe(false)
  })
})

describe('canonicalIp', () => {
  it('gives one text per address', () => {
    expect(canonicalIp('10.1.2.3')).toBe('10.1.2.3')
    expect(canonicalIp('::ffff:10.1.2.3')).toBe('10.1.2.3')
    expect(canonicalIp('::ffff:a01:203')).toBe('10.1.2.3')
    expect(canonicalIp('::1')).toBe('0:0:0:0:0:0:0:1')
    expect(canonicalIp('[0:0::1]')).toBe('0:0:0:0:0:0:0:1')
    expect(canonicalIp('2001:DB8::1')).toBe('2001:db8:0:0:0:0:0:1')
    expect(canonicalIp('example.com')).toBeUndefined()
    expect(canonicalIp('010.1.2.3')).toBeUndefined()
  })

  it('parses IPv6 groups with an embedded IPv4 tail', () => {
    expect(ipv6Groups('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304])
    expect(ipv6Groups('1::1.2.3.4')).toEqual([1, 0, 0, 0, 0, 0, 0x0102, 0x0304])
    expect(ipv6Groups('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(ipv6Groups('1.2.3.4')).toBeUndefined()
  })
})
