// Beijing time (Asia/Shanghai, UTC+8 all year: China has kept no daylight saving time since 1991), computed
// from the epoch by arithmetic so the output never depends on the server's TZ.

const OFFSET_MS = 8 * 3600_000

function parts(ms: number) {
  const d = new Date(ms + OFFSET_MS)
  const p = (n: number) => String(n).padStart(2, '0')
  return {
    date: `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}`,
    time: `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`,
    compactDate: `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}`,
  }
}

/** `2018-06-08T10:34:56+08:00`: WeChat Pay's RFC 3339 times. */
export function rfc3339Shanghai(ms: number): string {
  const { date, time } = parts(ms)
  return `${date}T${time}+08:00`
}

/** `2014-07-24 03:07:50`: Alipay's `timestamp`, `gmt_payment`, `notify_time`. */
export function alipayTime(ms: number): string {
  const { date, time } = parts(ms)
  return `${date} ${time}`
}

/** `2026-11-26`: the Beijing calendar day an instant falls on (bills are per Beijing day). */
export function shanghaiDate(ms: number): string {
  return parts(ms).date
}

/** Parses `yyyy-MM-dd HH:mm:ss` as Beijing time; null when malformed. */
export function parseAlipayTime(text: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text)
  if (!m) return null
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) - OFFSET_MS
  // Date.UTC rolls a 13th month or a 45th day over into the next: only a time that names itself is one.
  return Number.isFinite(ms) && alipayTime(ms) === text ? ms : null
}

/** Parses an RFC 3339 time with an explicit offset (WeChat's success_time); null when malformed. */
export function parseRfc3339(text: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return null
  const ms = Date.parse(text)
  return Number.isFinite(ms) ? ms : null
}

/** The instant a Beijing calendar day (`2026-11-26`) begins. */
export function shanghaiDayStart(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) - OFFSET_MS
}
