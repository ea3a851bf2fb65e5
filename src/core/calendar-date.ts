// `yyyy-MM-dd` naming a day that exists. Date.parse rolls an impossible day over (2026-02-30 is read as March 2),
// so a filter or a bill date given so would quietly mean another day.

export function isCalendarDate(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text)
}
