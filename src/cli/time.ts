/**
 * TIME and DURATION arguments.
 *
 * A DURATION is whole units, largest first: `90s`, `15m`, `8h`, `7d`, `2w`, `1h30m`. A TIME is a
 * duration from now, Unix seconds (ten digits or more: `1767225600`) or an ISO 8601 / RFC 3339
 * time with a zone (`2026-12-01T09:00:00Z`). A bare number shorter than Unix seconds
 * (`--expires 3600`) is refused, never read as a moment in 1970.
 *
 * @module
 */
import { iso } from '../internal/clock.js'
import { usage } from './errors.js'

/** What a DURATION looks like, for every duration error. */
export const DURATION_FORMS = 'a DURATION is whole units, largest first: 90s, 15m, 8h, 7d, 2w or 1h30m'

/** What a TIME looks like, for every time error. */
export const TIME_FORMS =
  'a TIME is a duration from now (90s, 15m, 8h, 7d, 1h30m), Unix seconds (1767225600) or ISO 8601 with a zone (2026-12-01T09:00:00Z)'

const UNITS = [
  ['w', 604800],
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
] as const

const DURATION = /^(?:(\d{1,9})w)?(?:(\d{1,9})d)?(?:(\d{1,9})h)?(?:(\d{1,9})m)?(?:(\d{1,9})s)?$/

/** Ten years: no duration on the command line is longer. */
const MAX_DURATION = 10 * 365 * 86400

/** Unix seconds have ten digits since 2001; a shorter number is a mistake (a duration without a unit). */
const MIN_UNIX = 1_000_000_000

const ISO = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/

/** Seconds of a DURATION, or undefined when the text is not one. */
export function durationSeconds(text: string): number | undefined {
  const t = text.trim()
  const m = DURATION.exec(t)
  if (!m || t === '') return undefined
  return UNITS.reduce((sum, [, seconds], i) => sum + Number(m[i + 1] ?? 0) * seconds, 0)
}

/** Parse a DURATION into seconds (positive, at most ten years). */
export function parseDuration(text: string, flag: string): number {
  const seconds = durationSeconds(text)
  if (seconds === undefined) {
    const bare = /^\d{1,15}$/.test(text.trim())
    usage(`${flag}: not a duration: ${JSON.stringify(text)}`, bare ? `did you mean ${text.trim()}s? ${DURATION_FORMS}` : DURATION_FORMS)
  }
  if (seconds <= 0) usage(`${flag}: the duration must be longer than 0s`, DURATION_FORMS)
  if (seconds > MAX_DURATION) usage(`${flag}: ${text.trim()} is longer than ten years`, DURATION_FORMS)
  return seconds
}

/**
 * Parse an approval wait: a DURATION of at most `max` seconds, or `0` (or `0s`) for none.
 */
export function parseWait(text: string, flag: string, max: number): number {
  if (text.trim() === '0' || durationSeconds(text) === 0) return 0
  const seconds = parseDuration(text, flag)
  if (seconds > max)
    usage(`${flag}: ${text.trim()} is longer than ${formatDuration(max)}`, `the longest wait is ${formatDuration(max)}, 0 for none`)
  return seconds
}

/** "1h30m", "7d", "45s": a duration as people write it. */
export function formatDuration(seconds: number): string {
  let rest = Math.max(0, Math.round(seconds))
  let out = ''
  for (const [unit, size] of UNITS.slice(1)) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`
      rest %= size
    }
  }
  return out || '0s'
}

/**
 * Whether an ISO time's day and hour exist as written: `Date.parse` rolls 2027-02-29 over to
 * March 1st and 24:00 to the next day, which would sign another time than the one asked for.
 */
function onTheCalendar(t: string): boolean {
  const [year, month, day] = t.slice(0, 10).split('-').map(Number) as [number, number, number]
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate()
  return month >= 1 && month <= 12 && day >= 1 && day <= days && Number(t.slice(11, 13)) <= 23
}

/** Parse an absolute TIME (Unix seconds or ISO 8601 with a zone) into Unix seconds. */
export function parseTime(text: string, flag: string): number {
  const t = text.trim()
  if (/^\d{1,15}$/.test(t)) {
    const n = Number(t)
    if (n >= MIN_UNIX) return n
    usage(
      `${flag}: ${t} is not a time: as Unix seconds it would be ${iso(n)}`,
      `did you mean ${t}s (${formatDuration(n)} from now)? ${TIME_FORMS}`,
    )
  }
  if (ISO.test(t) && onTheCalendar(t)) {
    const ms = Date.parse(t.replace(' ', 'T').toUpperCase())
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000)
  }
  const zoneless = /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(t)
  usage(
    `${flag}: not a time: ${JSON.stringify(text)}`,
    zoneless ? `give the time and its zone, e.g. ${t.slice(0, 10)}T09:00:00Z (Z is UTC); ${TIME_FORMS}` : TIME_FORMS,
  )
}

/** Parse a TIME: a DURATION counts from `now`. */
export function parseTimeOrDuration(text: string, flag: string, now: number): number {
  return durationSeconds(text) === undefined ? parseTime(text, flag) : now + parseDuration(text, flag)
}

/** "in 7h59m" / "3m ago" / "now", for human output. */
export function relative(seconds: number, now: number): string {
  const d = seconds - now
  if (d === 0) return 'now'
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
