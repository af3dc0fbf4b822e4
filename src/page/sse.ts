/**
 * A reader of `text/event-stream` (the WHATWG HTML "server-sent events" format) for a stream
 * read with `fetch`: the browser's EventSource cannot sign its request, so the approval page
 * reads its signed stream itself. Lines end with CRLF, LF or CR; `event` names the event,
 * `data` lines are joined with LF, a blank line dispatches, comments (`:`) and other fields
 * (`id`, `retry`) are ignored, and an event without data is dropped, as EventSource does.
 *
 * DOM-free: it runs (and is tested) in Node too.
 *
 * @module
 */

/** One dispatched event. */
export interface ServerSentEvent {
  /** The `event` field, `message` when there was none. */
  readonly event: string
  readonly data: string
}

/** The most a single event may hold before the stream is refused (characters). */
export const SSE_MAX_EVENT = 4 * 1024 * 1024

/**
 * A push parser: feed it the stream's text as it arrives (decoded with a streaming
 * TextDecoder); it calls `onEvent` for each complete event. Throws `RangeError` when one event
 * grows past {@link SSE_MAX_EVENT} characters.
 *
 * @example
 * ```ts
 * const parser = createSseParser((e) => console.log(e.event, JSON.parse(e.data)))
 * parser.push('event: ready\ndata: {}\n\n')
 * ```
 */
export function createSseParser(onEvent: (event: ServerSentEvent) => void): { push(text: string): void } {
  let buffer = ''
  let event = ''
  let data: string[] = []
  let size = 0
  const line = (text: string) => {
    if (text === '') {
      if (data.length > 0) onEvent({ event: event || 'message', data: data.join('\n') })
      event = ''
      data = []
      size = 0
      return
    }
    if (text.startsWith(':')) return
    const colon = text.indexOf(':')
    const field = colon < 0 ? text : text.slice(0, colon)
    let value = colon < 0 ? '' : text.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') {
      size += value.length + 1
      if (size > SSE_MAX_EVENT) throw new RangeError(`an event of the stream is larger than ${SSE_MAX_EVENT} characters`)
      data.push(value)
    }
  }
  return {
    push(text: string) {
      buffer += text
      for (;;) {
        const end = buffer.search(/\r\n|\r|\n/)
        if (end < 0) break
        // A CR at the very end may be the first half of a CRLF split across chunks: wait for more.
        if (buffer[end] === '\r' && end === buffer.length - 1) break
        const width = buffer.startsWith('\r\n', end) ? 2 : 1
        line(buffer.slice(0, end))
        buffer = buffer.slice(end + width)
      }
      if (buffer.length > SSE_MAX_EVENT) throw new RangeError(`a line of the stream is longer than ${SSE_MAX_EVENT} characters`)
    },
  }
}
