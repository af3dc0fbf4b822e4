/**
 * A throwaway PostgreSQL cluster per `describe` (see pg-cluster.ts), and an admin connection to it.
 */
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'
import { type Cluster, startCluster } from './pg-cluster.js'

export { type Cluster, postgresBin, startCluster } from './pg-cluster.js'

/**
 * Inside a `describe`: start a cluster before its tests and stop it after. Returns the URL
 * getter (valid once the tests run).
 */
export function useCluster(): () => string {
  let cluster: Cluster | undefined
  beforeAll(async () => {
    cluster = await startCluster()
  }, 120_000)
  afterAll(() => cluster?.stop())
  return () => {
    if (!cluster) throw new Error('the PostgreSQL cluster is not running')
    return cluster.url
  }
}

/**
 * Inside a `describe` after {@link useCluster}: one admin connection to the cluster (to create
 * and drop databases) for its tests. Returns the client getter.
 */
export function useAdmin(url: () => string): () => pg.Client {
  let admin: pg.Client | undefined
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: url() })
    await admin.connect()
  })
  afterAll(async () => {
    await admin?.end()
  })
  return () => {
    if (!admin) throw new Error('the admin connection is not open')
    return admin
  }
}
