// Preloaded (`node --import`) into a command under test whose behaviour waits on the clock:
// each SIGUSR2 moves its Date.now six minutes on, and says so on standard error, so that a test
// reaches "idle for five minutes" without waiting five minutes. Only Date.now moves.
const real = Date.now
let ahead = 0
Date.now = () => real() + ahead
process.on('SIGUSR2', () => {
  ahead += 6 * 60_000
  process.stderr.write(`clock-ahead: ${ahead / 60_000} minutes\n`)
})
