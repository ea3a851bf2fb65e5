// The shop's HTML: the product page and an order page that shows the QR code and updates itself by polling
// the shop's own backend (the browser never talks to ScanPay's API, which needs the secret).
import { formatAmount, refundable, STATUS_LABELS, type ShopOrder } from './shop-orders.ts'

export const PRODUCT = { name: 'ScanPay Mug', amount: 1234, currency: 'CNY' } as const

function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** JSON safe to put inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c')
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem; color: #222 }
  .card { border: 1px solid #ddd; border-radius: 12px; padding: 1.25rem; margin: 1rem 0 }
  button { font: inherit; padding: .6rem 1.2rem; border-radius: 8px; border: 0; background: #1a7f37; color: #fff; cursor: pointer }
  button.secondary { background: #b42318 }
  .qr img { width: 220px; height: 220px; image-rendering: pixelated }
  #status { font-weight: 700 }
  .muted { color: #666; font-size: .9rem }
  [hidden] { display: none !important }
</style></head>
<body><h1><a href="/" style="color:inherit;text-decoration:none">Bean There — demo shop</a></h1>${body}</body></html>`
}

export function homePage(recent: ShopOrder[], error?: string): string {
  const rows = recent
    .map((o) => `<li><a href="/orders/${esc(o.id)}">${esc(o.id)}</a> · ${esc(formatAmount(o.amount, o.currency))} · ${esc(STATUS_LABELS[o.status])}</li>`)
    .join('')
  return layout(
    'Bean There',
    `<div class="card"><h2>${esc(PRODUCT.name)}</h2><p>${esc(formatAmount(PRODUCT.amount, PRODUCT.currency))}</p>
<form method="post" action="/buy"><button type="submit">Buy</button></form>
${error ? `<p role="alert">${esc(error)}</p>` : ''}</div>
${rows ? `<h2>Your orders</h2><ul>${rows}</ul>` : ''}`,
  )
}

export function orderPage(o: ShopOrder, notice?: string): string {
  const waiting = o.status === 'awaiting_payment'
  return layout(
    `Order ${o.id}`,
    `<div class="card">
<h2>Order ${esc(o.id)}</h2>
<p>${esc(o.product)} · ${esc(formatAmount(o.amount, o.currency))}</p>
<p>Status: <span id="status" data-status="${esc(o.status)}" aria-live="polite">${esc(STATUS_LABELS[o.status])}</span></p>
<p id="refunded" ${o.amountRefunded > 0 ? '' : 'hidden'}>Refunded: <span id="refunded-amount">${esc(formatAmount(o.amountRefunded, o.currency))}</span></p>
<div id="pay" class="qr" ${waiting ? '' : 'hidden'}>
  <p>Scan to pay with your phone:</p>
  ${o.qrSvgUrl ? `<img id="qr" src="${esc(o.qrSvgUrl)}" alt="QR code to pay order ${esc(o.id)}">` : ''}
  <p><a id="pay-link" href="${esc(o.payUrl ?? '#')}" target="_blank" rel="noopener">Open the payment page</a></p>
  <p class="muted">This page updates itself when the payment arrives.</p>
</div>
<form id="refund" method="post" action="/orders/${esc(o.id)}/refund" ${refundable(o) > 0 ? '' : 'hidden'}>
  <button class="secondary" type="submit">Refund</button>
</form>
${notice ? `<p role="alert">${esc(notice)}</p>` : ''}
</div>
<script>
(() => {
  const labels = ${scriptJson(STATUS_LABELS)};
  const status = document.getElementById('status');
  async function poll() {
    try {
      const res = await fetch(${scriptJson(`/orders/${encodeURIComponent(o.id)}/state`)}, { cache: 'no-store' });
      if (res.ok) {
        const s = await res.json();
        status.textContent = labels[s.status] || s.status;
        status.dataset.status = s.status;
        document.getElementById('pay').hidden = s.status !== 'awaiting_payment';
        document.getElementById('refund').hidden = !(s.refundable > 0);
        document.getElementById('refunded').hidden = !(s.amount_refunded > 0);
        document.getElementById('refunded-amount').textContent = s.amount_refunded_text;
      }
    } catch {}
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
</script>`,
  )
}

export function errorPage(status: number, message: string): string {
  return layout('Error', `<div class="card"><h2>${status === 404 ? 'Not found' : 'Something went wrong'}</h2><p role="alert">${esc(message)}</p><p><a href="/">Back to the shop</a></p></div>`)
}
