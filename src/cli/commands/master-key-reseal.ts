// scanpay master-key reseal: after a master-key rotation, seals every stored secret under the current key, so
// the previous key is needed only for the payment links of orders made before the rotation.
import type { Config } from '../../config/config.ts'
import { masterKeyId, SecretBox } from '../../security/secret-box.ts'
import { migrate, openDatabase } from '../../storage/database.ts'
import { resealSecrets } from '../../storage/reseal-secrets.ts'

export async function runMasterKeyReseal(config: Config): Promise<number> {
  const database = await openDatabase(config.databaseUrl)
  try {
    await migrate(database.db)
    const counts = await resealSecrets(database.db, new SecretBox(config.masterKey, config.previousMasterKeys))
    console.log(`sealed under master key ${masterKeyId(config.masterKey)} (SCANPAY_MASTER_KEY) in ${database.description}:`)
    for (const c of counts) console.log(`  ${c.what}: ${c.resealed} sealed again, ${c.current} already sealed with it`)
    return 0
  } catch (err) {
    console.error(`nothing more was sealed: ${(err as Error).message}`)
    return 1
  } finally {
    await database.close()
  }
}
