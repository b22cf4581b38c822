import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import { authenticate, checkCrossSite, type AccessPolicy } from './access.js'

/**
 * Who may call a route, declared on the route itself (`config: { access }`):
 * - `admin` (the default, also for a route that declares nothing): the admin token, the
 *   dashboard's session cookie, or, on a tokenless loopback server, a known Host name.
 * - `sign-in`: anyone, but not from another site (signing in and out, against login CSRF).
 * - `public`: anyone (the dashboard's own files, the API description: no queue data).
 */
export type RouteAccess = 'admin' | 'sign-in' | 'public'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; `admin` when left out. */
    access?: RouteAccess
  }
}

/** A registered route and who may call it, for tests and audits. */
export interface RouteEntry {
  method: string
  url: string
  access: RouteAccess
}

/**
 * The access a request is held to: that of the route the router matched, so that the decision
 * is made on the same decoded, normalised path that picks the handler (`/%61pi/stats` is
 * `/api/stats`). A request no route matched is held to `admin` too: deny unless allowed.
 */
export function accessOf(request: FastifyRequest): RouteAccess {
  if (request.is404) return 'admin'
  return request.routeOptions.config.access ?? 'admin'
}

/**
 * Installs access control on `app`: checks each request against its matched route before any
 * handler runs. Returns a function listing every route registered after this call with its
 * access (read when called: a scope's own onRoute hook may set it after this one ran).
 */
export function installRouteAccess(app: FastifyInstance, policy: AccessPolicy): () => RouteEntry[] {
  const registered: RouteOptions[] = []
  app.addHook('onRoute', (route) => {
    registered.push(route)
  })
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    const access = accessOf(request)
    if (access === 'public') return
    if (access === 'sign-in') {
      checkCrossSite(request, 'open')
      return
    }
    reply.header('cache-control', 'no-store')
    checkCrossSite(request, authenticate(request, policy))
  })
  return () =>
    registered.flatMap((route) =>
      (Array.isArray(route.method) ? route.method : [route.method]).map((method) => ({
        method,
        url: route.url,
        access: route.config?.access ?? 'admin',
      })),
    )
}

/**
 * Registers routes in a scope where every route is `public` unless it says otherwise: for
 * plugins that register routes of their own and take no route config (@fastify/static).
 */
export async function registerPublic(
  app: FastifyInstance,
  register: (scope: FastifyInstance) => Promise<void> | void,
): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, access: route.config?.access ?? 'public' }
    })
    await register(scope)
  })
}
