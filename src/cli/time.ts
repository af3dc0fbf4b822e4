/**
 * TIME (RFC 3339 or Unix seconds) and DURATION (`90s`, `30m`, `8h`, `7d`) arguments.
 *
 * @module
 */
import { usage } from './errors.js'

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }

/** Parse a DURATION into seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d{1,9})([smhdw])$/.exec(text.trim())
  if (!m) usage(`${flag}: not a duration: ${JSON.stringify(text)}`, 'durations look like 90s, 30m, 8h, 7d')
  const seconds = Number(m[1]) * (UNITS[m[2] as string] as number)
  if (seconds <= 0) usage(`${flag}: the duration must be positive`)
  return seconds
}

/** Parse a TIME (RFC 3339 or Unix seconds) into Unix seconds. */
export function parseTime(text: string, flag: string): number {
  const t = text.trim()
  if (/^\d{1,15}$/.test(t)) return Number(t)
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(t)) {
    const ms = Date.parse(t)
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000)
  }
  usage(`${flag}: not a time: ${JSON.stringify(text)}`, 'times are RFC 3339 (2026-12-01T09:00:00Z) or Unix seconds')
}

/** Parse TIME or DURATION (relative to `now`). */
export function parseTimeOrDuration(text: string, flag: string, now: number): number {
  return /^\d{1,9}[smhdw]$/.test(text.trim()) ? now + parseDuration(text, flag) : parseTime(text, flag)
}

/** "in 7h59m" / "3m ago", for human output. */
export function relative(seconds: number, now: number): string {
  const d = seconds - now
  const a = Math.abs(d)
  const text =
    a < 60
      ? `${a}s`
      : a < 3600
        ? `${Math.floor(a / 60)}m`
        : a < 86400
          ? `${Math.floor(a / 3600)}h${Math.floor((a % 3600) / 60)}m`
          : `${Math.floor(a / 86400)}d${Math.floor((a % 86400) / 3600)}h`
  return d >= 0 ? `in ${text}` : `${text} ago`
}
