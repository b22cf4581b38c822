import { isIPv6 } from 'node:net'

/** How the listener's connection slots are shared out. */
export interface ClientSlotLimits {
  /** Sessions at once, in all. */
  maxClients: number
  /** Sessions at once from one address (an IPv6 /64) outside the trusted networks. */
  perClient: number
  /**
   * Percentage of `maxClients` that clients outside the trusted networks may fill together. At
   * least one slot is always left to trusted clients.
   */
  outsideShare: number
  /** Whether an address is on the trusted networks (`smtp.allowNetworks`). */
  isTrusted: (address: string) => boolean
}

export type SlotRefusal = 'full' | 'outside-share' | 'per-client'

/** Connection slots handed out to SMTP sessions, in the spirit of Postfix's anvil. */
export interface ClientSlots {
  /** Takes a slot for session `id`, or says why there is none. */
  admit(id: string, address: string): SlotRefusal | null
  /** Gives back the slot of session `id`, if it had one. */
  release(id: string): void
  /** Sessions holding a slot. */
  readonly size: number
}

/**
 * The unit one client is counted by: its address, or for IPv6 its /64, since whoever has one
 * IPv6 address usually has the whole /64 to connect from.
 */
export function clientKey(address: string): string {
  if (!isIPv6(address)) return address
  const groupsOf = (part: string | undefined): string[] =>
    part
      ? part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [g]
          const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number) // an embedded IPv4 tail
          return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)]
        })
      : []
  const [head, tail] = address.toLowerCase().split('::')
  const left = groupsOf(head)
  const right = groupsOf(tail)
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0')
  const prefix = [...left, ...zeros, ...right].slice(0, 4).map((g) => g.replace(/^0+(?=.)/, ''))
  return `${prefix.join(':')}::/64`
}

export function createClientSlots(limits: ClientSlotLimits): ClientSlots {
  const outsideMax = Math.min(
    Math.floor((limits.maxClients * limits.outsideShare) / 100),
    limits.maxClients - 1,
  )
  const sessions = new Map<string, string | null>() // id → client key, null when trusted
  const perClient = new Map<string, number>()
  let outside = 0

  return {
    admit(id, address) {
      if (sessions.size >= limits.maxClients) return 'full'
      if (limits.isTrusted(address)) {
        sessions.set(id, null)
        return null
      }
      const key = clientKey(address)
      const count = perClient.get(key) ?? 0
      if (count >= limits.perClient) return 'per-client'
      if (outside >= outsideMax) return 'outside-share'
      perClient.set(key, count + 1)
      outside++
      sessions.set(id, key)
      return null
    },
    release(id) {
      if (!sessions.has(id)) return
      const key = sessions.get(id)
      sessions.delete(id)
      if (key === null || key === undefined) return
      outside--
      const count = perClient.get(key)! - 1
      if (count === 0) perClient.delete(key)
      else perClient.set(key, count)
    },
    get size() {
      return sessions.size
    },
  }
}
