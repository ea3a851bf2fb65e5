// The document around every customer page: head, the inline stylesheet (and a bit for pages without script), footer.
// Mobile first, no external assets. The stylesheets and the script are fixed texts, allowed by their hashes in the
// page's CSP (page-response.ts).
// Colours keep white on the brand blue, and muted text on its backgrounds, at 4.5:1 or more (WCAG AA), dark mode too.
// The subject and the description show at most two lines each (.sj, .ds), and a short screen tightens the card's
// top and drops the avatar (its initial only decorates), so the pay action stays above the fold on a 320×568 phone
// or in an in-app browser. The whole text stays in the DOM (read out by screen readers); a button the script shows
// when something was cut (#mo, which sets no display so that its hidden attribute holds) opens it on screen, and a
// page without script shows it whole (NOSCRIPT_CSS).
import { html, unsafeRaw, type SafeHtml } from './html.ts'
import type { Lang, Messages } from './i18n.ts'

export const CSS = `:root{color-scheme:light dark;--bg:#eef0f3;--card:#fff;--fg:#14171c;--mu:#5d6679;--ln:#e4e7ec;--br:#1766e0;--lk:#1766e0;--brh:#0f56c4;--ok:#12a150;--okb:#e2f5e9;--wa:#9a5b0a;--wab:#fdf0d5;--nb:#f1f3f6}
@media(prefers-color-scheme:dark){:root{--bg:#0d0f12;--card:#181b20;--fg:#eceef1;--mu:#98a2b3;--ln:#2a2f37;--br:#2f6fe0;--lk:#6ea0ff;--brh:#2a63cc;--ok:#34c46e;--okb:#12311f;--wa:#f5b73d;--wab:#3a2a0c;--nb:#23272e}}
*{box-sizing:border-box}
button{font:inherit;cursor:pointer;background:none}
body{margin:0;min-height:100vh;display:flex;flex-direction:column;align-items:center;padding:16px;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif;-webkit-text-size-adjust:100%}
main{width:100%;max-width:420px;margin-top:min(6vh,48px);background:var(--card);border-radius:20px;padding:28px 22px 24px;box-shadow:0 1px 2px rgba(16,24,40,.05),0 12px 32px rgba(16,24,40,.08);text-align:center}
.tag{display:inline-block;font-size:12px;font-weight:600;line-height:22px;padding:0 10px;border-radius:99px;color:var(--wa);background:var(--wab);margin-bottom:16px}
.av{width:52px;height:52px;margin:0 auto 8px;border-radius:16px;background:var(--br);color:#fff;font-size:24px;font-weight:600;line-height:52px}
.mn{font-weight:600;overflow-wrap:anywhere}
.amt{font-size:min(46px,calc((100vw - 76px)/5.6));line-height:1.1;font-weight:700;margin:20px 0 6px;letter-spacing:-.02em;font-variant-numeric:tabular-nums;white-space:nowrap}
.amt.l{font-size:min(34px,calc((100vw - 76px)/7.5))}.amt.xl{font-size:min(25px,calc((100vw - 76px)/10.7))}
h1{font-size:16px;font-weight:500;margin:0;overflow-wrap:anywhere}
.sj,.ds{display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:2;overflow:hidden}
.ds{margin:6px 0 0;color:var(--mu);font-size:14px;white-space:pre-line;overflow-wrap:anywhere}
.op>*{display:block}
#mo{margin-bottom:-12px;padding:6px 12px;border:0;color:var(--lk);font-size:14px;font-weight:600}
.tm{display:inline-block;margin:18px 0 0;padding:4px 14px;border-radius:99px;background:var(--nb);color:var(--mu);font-size:14px}
.tm time{color:var(--fg);font-weight:600;font-variant-numeric:tabular-nums}
.tm.soon{background:var(--wab)}.tm.soon time{color:var(--wa)}
.sec{margin-top:22px;padding-top:20px;border-top:1px solid var(--ln);text-align:left}
h2{font-size:13px;font-weight:600;letter-spacing:.03em;color:var(--mu);margin:0 0 10px}
h2:focus{outline:none}
.ch{list-style:none;margin:0;padding:0}
.ch li{display:flex;gap:12px;align-items:center;padding:12px 14px;border:1px solid var(--ln);border-radius:14px;margin-bottom:8px}
.ch b{display:block;font-weight:600}
.ch small{display:block;color:var(--mu);font-size:13px}
.dot{width:32px;height:32px;border-radius:9px;flex:none;display:grid;place-items:center;color:#fff}
.dot svg{width:20px;height:20px;fill:none;stroke:currentColor;stroke-width:2;stroke-linejoin:round}
.off .dot{opacity:.45}.off b{color:var(--mu)}
.c-sandbox{background:#f59e0b}.c-wechatpay{background:#07c160}.c-alipay{background:#1677ff}
.ch .p{display:block;padding:0;border:0}
.pick{display:flex;gap:12px;align-items:center;width:100%;min-height:58px;padding:12px 14px;border:1px solid var(--ln);border-radius:14px;color:inherit;text-align:left;-webkit-tap-highlight-color:transparent}
.pick::after{content:"›";content:"›"/"";margin-left:auto;color:var(--mu);font-size:24px;line-height:1}
.pick:hover,.pick[aria-current]{border-color:var(--br)}
.pick[aria-current]{box-shadow:inset 0 0 0 1px var(--br)}
.pick:disabled{opacity:.6;cursor:progress}
.pick:focus-visible{outline:3px solid var(--br);outline-offset:2px}
.cq{margin-top:14px;padding:20px 16px 16px;border:1px solid var(--ln);box-shadow:inset 0 4px 0 #07c160;border-radius:16px;text-align:center}
.cq-alipay{box-shadow:inset 0 4px 0 #1677ff}
.cq img{display:block;width:220px;height:220px;max-width:100%;margin:0 auto;border-radius:8px;background:#fff;-webkit-touch-callout:default}
.how{margin:12px 0 0;font-size:17px;font-weight:600}
.sv{margin:6px 0 0;color:var(--mu);font-size:13px}
@media(hover:none){.cq{display:flex;flex-direction:column}.cq .sv{order:1;margin-top:12px;color:var(--fg);font-size:15px;font-weight:600}.cq .how{order:2;margin-top:6px;color:var(--mu);font-size:13px;font-weight:400}}
form{margin:0}
.btn{display:block;width:100%;min-height:52px;margin-top:12px;padding:13px 16px;border-radius:14px;border:1px solid transparent;font-size:17px;font-weight:600;line-height:24px;text-align:center;text-decoration:none;-webkit-tap-highlight-color:transparent}
.pri{background:var(--br);color:#fff}
.pri:hover{background:var(--brh)}
.sub{color:var(--fg);border-color:var(--ln)}
.btn:disabled{opacity:.6;cursor:progress}
.btn:focus-visible{outline:3px solid var(--br);outline-offset:2px}
.again{display:block;padding:12px;text-align:center;color:var(--lk);font-size:15px}
.msg{min-height:20px;margin:10px 0 -6px;text-align:center;color:var(--wa);font-size:14px}
.end{text-align:center}
.end h2,.end h1{font-size:21px;font-weight:600;color:var(--fg);letter-spacing:0;margin:0 0 6px}
.end p{margin:0;color:var(--mu);text-wrap:pretty}
.end h1,.end h2,.how,.sv{text-wrap:balance}
.end p.ux{margin-top:12px;color:var(--fg);background:var(--wab);border-radius:12px;padding:10px 12px;text-align:left}
.no{margin:18px 0 0;color:var(--mu);font-size:13px;overflow-wrap:anywhere}
.ic{width:68px;height:68px;margin:6px auto 14px;border-radius:50%;display:grid;place-items:center;background:var(--nb);color:var(--mu)}
.ic svg{width:36px;height:36px;fill:none;stroke:currentColor;stroke-width:2.4;stroke-linecap:round;stroke-linejoin:round}
.ok .ic{background:var(--okb);color:var(--ok)}
.ok .btn{margin-top:22px}
.qr{display:none}
@media(min-width:720px) and (hover:hover){.sv{display:none}.qr{display:block;margin-top:20px;text-align:center;color:var(--mu);font-size:13px}.qr img{display:block;margin:8px auto 0;width:148px;height:148px;padding:6px;border-radius:10px;background:#fff}}
@media(max-height:640px){main{margin-top:0;padding-top:16px}.tag{margin-bottom:8px}.av{display:none}}
footer{margin:16px 0 8px;font-size:13px;color:var(--mu)}
footer a{color:inherit;margin-left:6px;display:inline-block;padding:12px 8px;min-width:44px;min-height:44px;box-sizing:border-box;text-align:center}`

/** A page without script shows the subject and description whole, as it has no way to open them (an id outranks CSS's clamp). */
export const NOSCRIPT_CSS = '#tx>*{display:block}'

export interface ShellInput {
  lang: Lang
  t: Messages
  title: string
  body: SafeHtml
  script?: string
  /** Same page in the other language; omitted where switching would change what the page does. */
  switchTo?: { lang: Lang; href: string; name: string }
}

export function documentShell(p: ShellInput): SafeHtml {
  return html`<!doctype html>
<html lang="${p.lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,viewport-fit=cover">
<meta name="robots" content="noindex,nofollow">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${p.title}</title>
${p.script !== undefined && html`<noscript><style>${unsafeRaw(NOSCRIPT_CSS)}</style></noscript>`}
<style>${unsafeRaw(CSS)}</style></head>
<body>${p.body}
<footer>${p.t.poweredBy}${p.switchTo && html`<a href="${p.switchTo.href}" lang="${p.switchTo.lang}" hreflang="${p.switchTo.lang}">${p.switchTo.name}</a>`}</footer>
${p.script !== undefined && html`<script>${unsafeRaw(p.script)}</script>`}
</body></html>`
}
