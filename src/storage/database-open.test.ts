// A database that cannot be opened says so: which database (without its password) and the driver's reason.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { POSTGRES_URL, postgresAvailable } from '../../test/helpers/databases.ts'
import { openDatabase, withoutPassword } from './database.ts'

it('withoutPassword drops the password, even from a URL that does not parse', () => {
  assert.equal(withoutPassword('postgres://u:s3cret@db.example:5432/x'), 'postgres://u@db.example:5432/x')
  assert.equal(withoutPassword('postgres://u:s3cret@db.example:5432:1/x'), 'postgres://u@db.example:5432:1/x')
  // A password with an @ of its own, in a URL that does not parse: cut up to the authority's last @.
  assert.equal(withoutPassword('postgres://u:p@ss@db:5432:1/x'), 'postgres://u@db:5432:1/x')
  assert.equal(withoutPassword('mysql://u:topsecret@db/x'), 'mysql://u@db/x')
  assert.equal(withoutPassword('postgres://u@db.example/x'), 'postgres://u@db.example/x')
})

it('an unreachable PostgreSQL, a URL that does not parse: the message names the database and the reason', async () => {
  // Port 47499: within this project's range for hand-started processes, where nothing listens.
  await assert.rejects(openDatabase('postgres://postgres:pw@127.0.0.1:47499/x'), {
    message: 'cannot open the database postgres://postgres@127.0.0.1:47499/x: connect ECONNREFUSED 127.0.0.1:47499',
  })
  await assert.rejects(openDatabase('postgres://postgres:pw@127.0.0.1:1:2/x'), {
    message: 'cannot open the database postgres://postgres@127.0.0.1:1:2/x: Invalid URL',
  })
})

it('a role PostgreSQL does not know', { skip: (await postgresAvailable()) ? false : 'PostgreSQL unreachable' }, async () => {
  const u = new URL(POSTGRES_URL)
  u.username = 'scanpay_no_such_role'
  u.password = 'pw'
  await assert.rejects(openDatabase(u.toString()), (err: Error) => {
    assert.match(err.message, /^cannot open the database postgres:\/\/scanpay_no_such_role@[^ ]+: .*scanpay_no_such_role/)
    assert.doesNotMatch(err.message, /:pw@/)
    return true
  })
})
