import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  answeredArp,
  hostsEntries,
  ipv6Interfaces,
  isOpen,
  routeGateways,
  tryTcp,
  wallTargets,
} from '../../../src/network/wall.js'

describe('the network proof reads what the container sees', () => {
  it('takes gateways from /proc/net/route, little-endian hex', () => {
    const route = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\t0\t0\t0',
      'eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    ].join('\n')
    expect(routeGateways(route)).toEqual(['172.18.0.1'])
    expect(routeGateways('Iface\tDestination\tGateway\n')).toEqual([])
  })

  it('takes IPv4 entries of /etc/hosts with their first name', () => {
    const hosts = [
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost',
      '10.89.0.1\thost.containers.internal # the host',
      '# 10.9.9.9 commented',
      '10.89.0.3\t4b2fc628bee8 safe-coder-x',
    ].join('\n')
    expect(hostsEntries(hosts)).toEqual([
      { address: '127.0.0.1', name: 'localhost' },
      { address: '10.89.0.1', name: 'host.containers.internal' },
      { address: '10.89.0.3', name: '4b2fc628bee8' },
    ])
  })

  it('counts only completed ARP entries as answers', () => {
    const arp = [
      'IP address       HW type     Flags       HW address            Mask     Device',
      '172.20.0.1       0x1         0x0         00:00:00:00:00:00     *        eth0',
      '10.89.0.1        0x1         0x2         d6:9a:8a:4f:bd:cd     *        eth0',
    ].join('\n')
    expect([...answeredArp(arp)]).toEqual(['10.89.0.1'])
  })

  it('lists interfaces other than lo that have IPv6 addresses', () => {
    const inet6 = [
      'fe80000000000000fc2f85fffe253327 02 40 20 c0     eth0',
      '00000000000000000000000000000001 01 80 10 80       lo',
    ].join('\n')
    expect(ipv6Interfaces(inet6)).toEqual(['eth0'])
    expect(ipv6Interfaces('')).toEqual([])
  })

  it('tries each address once, with every place it came from, never loopback or its own', () => {
    expect(
      wallTargets({
        given: ['10.89.0.1'],
        routes: ['10.89.0.1'],
        hosts: [
          { address: '127.0.0.1', name: 'localhost' },
          { address: '10.89.0.1', name: 'host.containers.internal' },
          { address: '10.89.0.3', name: 'self' },
          { address: '10.89.0.9', name: 'other' },
        ],
        own: ['10.89.0.3'],
      }),
    ).toEqual([
      { address: '10.89.0.1', source: 'gateway, route, /etc/hosts host.containers.internal' },
      { address: '10.89.0.9', source: '/etc/hosts other' },
    ])
  })
})

describe('a TCP attempt', () => {
  it('tells a listener, a closed port and what answered apart', async () => {
    const server = createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    onTestFinished(
      () =>
        new Promise<void>((resolve) =>
          server.close(() => {
            resolve()
          }),
        ),
    )
    const port = (server.address() as AddressInfo).port
    expect(await tryTcp('127.0.0.1', port, 2000)).toBe('connected')
    // A closed port on a host that is there: it answers with a reset, so it counts as open.
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const closedPort = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) =>
      closed.close(() => {
        resolve()
      }),
    )
    expect(await tryTcp('127.0.0.1', closedPort, 2000)).toBe('refused')
    const finding = { address: 'a', source: 's' }
    expect(isOpen({ ...finding, tcp: 'refused', arp: 'silent' })).toBe(true)
    expect(isOpen({ ...finding, tcp: 'timeout', arp: 'answered' })).toBe(true)
    expect(isOpen({ ...finding, tcp: 'unreachable', arp: 'silent' })).toBe(false)
    expect(isOpen({ ...finding, tcp: 'timeout', arp: 'silent' })).toBe(false)
  })
})
