/**
 * Prometheus metrics of one service instance (a private registry, not prom-client's global).
 *
 * @module
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** The counters, histogram and gauge a service instance reports, in their own registry. */
export interface ServiceMetrics {
  readonly registry: Registry
  readonly requests: Counter<'method' | 'route' | 'status'>
  readonly duration: Histogram<'route'>
  readonly revocations: Counter<'kind' | 'result'>
  readonly usage: Counter<'result'>
  readonly approvals: Counter<'event'>
  readonly feedSeq: Gauge
}

export function createMetrics(): ServiceMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return {
    registry,
    requests: new Counter({
      name: 'mandate_http_requests_total',
      help: 'HTTP requests',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'mandate_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    revocations: new Counter({
      name: 'mandate_revocations_total',
      help: 'revocation statements by outcome',
      labelNames: ['kind', 'result'],
      registers: [registry],
    }),
    usage: new Counter({
      name: 'mandate_usage_decisions_total',
      help: 'usage consume decisions',
      labelNames: ['result'],
      registers: [registry],
    }),
    approvals: new Counter({
      name: 'mandate_approvals_total',
      help: 'approval inbox events',
      labelNames: ['event'],
      registers: [registry],
    }),
    feedSeq: new Gauge({ name: 'mandate_feed_seq', help: 'highest revocation feed sequence number', registers: [registry] }),
  }
}
