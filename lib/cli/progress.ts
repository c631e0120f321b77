/** A one-line progress bar on a TTY, redrawn at most every 100 ms. */
import type { Output } from '../env.js'
import { plural } from '../text.js'

export function progressBar(stream: Output, label: string) {
  let last = 0
  let shown = false
  return {
    update(done: number, total: number, files: number) {
      const now = Date.now()
      if (now - last < 100 || total === 0) return
      last = now
      shown = true
      const pct = Math.min(100, Math.floor((done / total) * 100))
      const width = 24
      const fill = Math.round((pct / 100) * width)
      stream.write(
        `\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}% ${(done / 1e6).toFixed(0)}/${(total / 1e6).toFixed(0)} MB, ${plural(files, 'file')}`,
      )
    },
    done() {
      if (shown) stream.write('\r\x1b[K')
    },
  }
}
