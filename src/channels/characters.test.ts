import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { firstCharacters, firstUtf8Bytes } from './characters.ts'

describe('firstCharacters', () => {
  it('keeps a text within the limit as it is', () => {
    assert.equal(firstCharacters('退款', 80), '退款')
    assert.equal(firstCharacters('', 3), '')
  })

  it('cuts between characters, never inside one', () => {
    // 'ab' then an emoji of two UTF-16 code units: slice(0, 3) would end on its first half.
    assert.equal('ab😀c'.slice(0, 3), 'ab\ud83d')
    assert.equal(firstCharacters('ab😀c', 3), 'ab😀')
    assert.equal(firstCharacters('😀'.repeat(100), 80), '😀'.repeat(80))
    assert.equal(firstCharacters('𠮷野家', 2), '𠮷野')
  })
})

describe('firstUtf8Bytes', () => {
  it('keeps a text within the limit as it is', () => {
    assert.equal(firstUtf8Bytes('退款', 80), '退款')
    assert.equal(firstUtf8Bytes('a'.repeat(80), 80), 'a'.repeat(80))
  })

  it('counts UTF-8 bytes and cuts between characters, never inside one', () => {
    // 27 汉字 are 81 bytes: 26 fit in 80.
    assert.equal(firstUtf8Bytes('退'.repeat(27), 80), '退'.repeat(26))
    assert.equal(firstUtf8Bytes('ab😀c', 5), 'ab')
    assert.equal(firstUtf8Bytes('ab😀c', 6), 'ab😀')
  })
})
