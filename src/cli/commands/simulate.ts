// scanpay simulate wechatpay|alipay --port P --keys-dir DIR: runs a local channel gateway for offline
// development, writing its keys, certificates and a ready credentials file to DIR.
import { join, resolve } from 'node:path'
import { AlipaySimulator } from '../../channels/alipay/simulator.ts'
import { WechatPaySimulator } from '../../channels/wechat-pay/simulator.ts'

export async function runSimulate(opts: { channel?: string; port?: string; host?: string; keysDir?: string; serialMode?: string }): Promise<number> {
  if (opts.channel !== 'wechatpay' && opts.channel !== 'alipay') {
    console.error('usage: scanpay simulate wechatpay|alipay [--port P] [--host 127.0.0.1] [--keys-dir DIR] [--serial-mode public-key|certificate]')
    return 2
  }
  const port = opts.port === undefined ? 0 : Number(opts.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('--port must be a port number')
    return 2
  }
  if (opts.serialMode !== undefined && opts.serialMode !== 'public-key' && opts.serialMode !== 'certificate') {
    console.error('--serial-mode must be public-key or certificate')
    return 2
  }
  const keysDir = resolve(opts.keysDir ?? `./data/simulator-${opts.channel}`)
  const host = opts.host ?? '127.0.0.1'
  const sim =
    opts.channel === 'wechatpay'
      ? new WechatPaySimulator({ port, host, keysDir, serialMode: opts.serialMode as 'public-key' | 'certificate' | undefined })
      : new AlipaySimulator({ port, host, keysDir })
  await sim.start()
  const credentialsFile = join(keysDir, opts.channel === 'wechatpay' ? 'wechatpay-credentials.json' : 'alipay-credentials.json')
  console.log(
    [
      `${opts.channel === 'wechatpay' ? 'WeChat Pay API v3' : 'Alipay OpenAPI'} simulator listening on ${sim.url}`,
      `  keys and certificates:  ${keysDir}`,
      `  customer page:          ${sim.url}/sim`,
      `  set it for a merchant:  npx scanpay channel set --merchant mch_… ${opts.channel} --from-file ${credentialsFile} --check`,
    ].join('\n'),
  )
  await new Promise<void>((done) => {
    const stop = () => void sim.stop().then(done, done)
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  return 0
}
