import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { languageFromAcceptLanguage, LANGS, messages, negotiateLanguage, parseLangParam } from './i18n.ts'

describe('language negotiation', () => {
  it('takes ?lang= first', () => {
    assert.equal(negotiateLanguage('zh-CN', 'en-US,en;q=0.9'), 'zh-CN')
    assert.equal(negotiateLanguage('en', 'zh-CN,zh;q=0.9'), 'en')
  })

  it('reads ?lang= without regard to case and ignores values it does not know', () => {
    assert.equal(parseLangParam('zh-cn'), 'zh-CN')
    assert.equal(parseLangParam('EN'), 'en')
    assert.equal(parseLangParam('fr'), null)
    for (const zh of ['zh-TW', 'zh-Hant', 'zh-HK']) assert.equal(parseLangParam(zh), 'zh-CN', zh)
    assert.equal(parseLangParam(['en', 'zh-CN']), null)
    assert.equal(negotiateLanguage('fr', 'zh-TW'), 'zh-CN')
  })

  it('maps any Chinese in Accept-Language to Simplified Chinese', () => {
    for (const header of ['zh', 'zh-CN', 'zh-TW', 'zh-Hant-HK', 'ZH-cn;q=0.8']) {
      assert.equal(languageFromAcceptLanguage(header), 'zh-CN', header)
    }
  })

  it('falls back to English when nothing is asked for or nothing matches', () => {
    assert.equal(languageFromAcceptLanguage(undefined), 'en')
    assert.equal(languageFromAcceptLanguage(''), 'en')
    assert.equal(languageFromAcceptLanguage('fr-FR,de;q=0.8'), 'en')
    assert.equal(languageFromAcceptLanguage('*'), 'en')
  })

  it('honours quality values rather than position', () => {
    assert.equal(languageFromAcceptLanguage('en;q=0.5,zh-CN;q=0.9'), 'zh-CN')
    assert.equal(languageFromAcceptLanguage('zh;q=0.4,en-GB;q=0.8'), 'en')
    assert.equal(languageFromAcceptLanguage('zh;q=0,en'), 'en')
  })

  it('takes the most preferred language it can serve', () => {
    assert.equal(languageFromAcceptLanguage('fr-FR,zh;q=0.8,en;q=0.5'), 'zh-CN')
    assert.equal(languageFromAcceptLanguage('en-US,en;q=0.9,zh-CN;q=0.8'), 'en')
  })
})

describe('messages', () => {
  it('name the sandbox buttons as the contract requires', () => {
    const en = messages('en')
    const zh = messages('zh-CN')
    assert.match(en.payButton('¥12.34'), /^Pay/)
    assert.doesNotMatch(en.declineButton, /^Pay/)
    assert.match(zh.payButton('¥12.34'), /支付/)
    assert.doesNotMatch(zh.declineButton, /支付/)
  })

  it('keep Chinese out of the English strings', () => {
    const cjk = /[\u3000-\u9fff\uff00-\uffef]/
    const texts: string[] = []
    const walk = (v: unknown) => {
      if (typeof v === 'string') texts.push(v)
      else if (typeof v === 'function') texts.push(String(v('X')))
      else if (v && typeof v === 'object') Object.values(v).forEach(walk)
    }
    walk(messages('en'))
    for (const text of texts) assert.doesNotMatch(text, cjk, text)
  })

  it('have the same keys in every language', () => {
    const shape = (v: unknown): unknown =>
      v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)])) : typeof v
    for (const lang of LANGS) assert.deepEqual(shape(messages(lang)), shape(messages('en')), lang)
  })
})

describe('payment link errors in Chinese', () => {
  it('name the wrong field as a customer reads it, not by its parameter name, and say what to do', () => {
    const zh = messages('zh-CN').linkErrors
    assert.equal(zh.invalid('amount'), '链接中的金额缺失或有误，请联系商户获取新的链接。')
    assert.equal(zh.invalid('expires_at'), '链接中的有效期缺失或有误，请联系商户获取新的链接。')
    assert.equal(zh.repeated('amount'), '链接中的金额重复出现，请联系商户获取新的链接。')
    assert.match(zh.invalid('other'), /“other”/)
  })
})

describe('payment link errors', () => {
  it('tell the customer, in every language and for every cause, to ask the merchant for a new link', () => {
    for (const lang of LANGS) {
      const t = messages(lang).linkErrors
      const advice = lang === 'en' ? /Ask the merchant for a new link\.$/ : /请联系商户获取新的链接。$/
      for (const text of [t.key, t.signature, t.invalid('amount'), t.unknown('colour'), t.repeated('amount'), t.repeated(null), t.expired, t.conflict]) {
        assert.match(text, advice, `${lang}: ${text}`)
      }
    }
  })

  it('name a field in words, not by its parameter name', () => {
    const en = messages('en').linkErrors
    assert.equal(en.invalid('amount'), 'This link’s amount is missing or not valid. Ask the merchant for a new link.')
    assert.equal(en.invalid('out_trade_no'), 'This link’s order number is missing or not valid. Ask the merchant for a new link.')
    assert.equal(en.repeated('expires_at'), 'This link gives its expiry time more than once. Ask the merchant for a new link.')
  })
})
