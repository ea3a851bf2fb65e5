// Channels limit text fields by characters. A cut by UTF-16 code units (String#slice) can split a character
// outside the Basic Multilingual Plane (an emoji, a rare 汉字) and send half of it, which is not valid text.

/** The first `max` characters (Unicode code points) of `text`. */
export function firstCharacters(text: string, max: number): string {
  if (text.length <= max) return text
  return Array.from(text).slice(0, max).join('')
}
