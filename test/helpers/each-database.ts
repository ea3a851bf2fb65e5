// Runs a suite once per database kind (SQLite, and PostgreSQL when reachable), each on a fresh server.
import { after, before, describe } from 'node:test'
import { databaseKinds, type TestDatabase } from './databases.ts'
import { startTestServer, type TestServer, type TestServerOptions } from './server.ts'

const kinds = await databaseKinds()

/**
 * `describeEachDatabase('orders', (t) => { it('…', async () => { t.server.url … }) })`: the suite body gets a
 * handle whose `server` is started before its tests and stopped after them.
 */
export function describeEachDatabase(
  name: string,
  body: (t: { readonly server: TestServer; kind: TestDatabase['name'] }) => void,
  options: TestServerOptions = {},
): void {
  for (const kind of kinds) {
    describe(`${name} [${kind}]`, () => {
      let server: TestServer | undefined
      before(async () => {
        server = await startTestServer(kind, options)
      })
      after(async () => {
        await server?.stop()
      })
      body({
        kind,
        get server() {
          if (!server) throw new Error('server not started')
          return server
        },
      })
    })
  }
}
