// Channels limit text fields by characters, or (WeChat Pay) by UTF-8 bytes. A cut by UTF-16 code units
// (String#slice) can split a character outside the Basic Multilingual Plane (an emoji, a rare 汉字) and send half
// of it, which is not valid text; so can a cut of the UTF-8 bytes.

/** The first `max` characters (Unicode code points) of `text`. */
export function firstCharacters(text: string, max: number): string {
  if (text.length <= max) return text
  return Array.from(text).slice(0, max).join('')
}

/** The longest start of `text` of whole characters whose UTF-8 takes at most `maxBytes` bytes (一 takes 3). */
export function firstUtf8Bytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text
  let out = ''
  let bytes = 0
  for (const ch of text) {
    bytes += Buffer.byteLength(ch, 'utf8')
    if (bytes > maxBytes) break
    out += ch
  }
  return out
}
