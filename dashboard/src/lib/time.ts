import { DASH } from './decimal'

/** An ISO timestamp as local time of day ("14:03:27"); "—" when absent or unreadable. */
export function formatTime(ts: unknown): string {
  if (typeof ts !== 'string' || !ts) return DASH
  const d = new Date(ts)
  if (Number.isNaN(d.getTime())) return ts
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
}

/** An ISO timestamp as local date and time ("2026-11-25 14:03:27"). */
export function formatDateTime(ts: unknown): string {
  if (typeof ts !== 'string' || !ts) return DASH
  const d = new Date(ts)
  if (Number.isNaN(d.getTime())) return ts
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}
