// The ScanPay SDK as this example uses it. In your own shop, install it and write
// `import { ScanPay, verifyWebhook } from '@scanpay/node'` instead; this file only points at the copy in
// this repository so the example always runs against the SDK beside it.
export * from '../../sdk/src/index.ts'
