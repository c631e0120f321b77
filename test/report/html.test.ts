import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { inflateSync } from 'node:zlib'
import { cli, isolatedEnv, ROOT } from '../helpers/cli.js'
import { machine } from '../helpers/machine.js'
import { BLOCK_COLOR, DEVICE_COLORS, MODEL_COLORS } from '../../lib/report/html.js'

/** A device name that breaks the page unless every text is escaped. */
const HOSTILE = '<script>alert("x")</script> & co'
const ID = { a: 'a1'.repeat(16), b: 'b2'.repeat(16) }
const ARTIFACTS = path.join(ROOT, 'test-artifacts')

async function ok(args: string[], env: Record<string, string | undefined>) {
  const r = await cli(args, { env })
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

/**
 * Two devices (the claude fixtures on one, codex on the other) sharing a local bare remote; returns the first, fetched.
 */
async function twoDevices(root: string) {
  const remote = path.join(root, 'remote.git')
  spawnSync('git', ['init', '-q', '--bare', remote], {
    env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', HOME: root },
  })
  const a = machine(root, 'a', { id: ID.a, sources: ['claude'] }).env,
    b = machine(root, 'b', { id: ID.b, sources: ['codex'] }).env
  await ok(['init', '--remote', remote, '--name', HOSTILE], a)
  await ok(['record'], a)
  await ok(['init', '--remote', remote, '--name', 'desk'], b)
  await ok(['record'], b)
  await ok(['fetch'], a)
  return a
}

type JsonRow = Record<string, string | number>
const json = async (env: Record<string, string | undefined>, args: string[]) =>
  JSON.parse((await ok(['report', ...args, '--tz', 'UTC', '--json'], env)).stdout) as {
    rows: JsonRow[]
    totals: Record<string, number>
  }

const unescapeHtml = (s: string) =>
  s.replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!)

/** The `rect.bar` elements of the SVG with this id, their attributes unescaped. */
function bars(html: string, id: string): Array<Record<string, string>> {
  const svg = html.match(new RegExp(`<svg id="${id}"[^]*?</svg>`))?.[0] ?? ''
  return [...svg.matchAll(/<rect class="bar"([^>]*)>/g)].map((m) =>
    Object.fromEntries([...m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, unescapeHtml(a[2]!)])),
  )
}

/** Every bar's length is its value times one scale (the largest bar sets it). */
function proportional(t: Test, list: Array<Record<string, string>>, length: 'height' | 'width', what: string) {
  const top = list.reduce((best, b) => (Number(b['data-value']) > Number(best['data-value']) ? b : best))
  const scale = Number(top[length]) / Number(top['data-value'])
  t.ok(
    list.every((b) => Math.abs(Number(b[length]) - Number(b['data-value']) * scale) < 0.02),
    `${what}: bar ${length}s are proportional to the values`,
  )
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6

t.test('report --format html: one self-contained page whose charts match the data, drawn by a browser', async (t) => {
  const root = t.testdir()
  const env = await twoDevices(root)
  const file = path.join(root, 'out', 'report.html')
  const r = await ok(['report', '--format', 'html', '--output', file, '--by', 'device', '--tz', 'UTC'], env)
  t.equal(r.stdout, '', 'nothing on stdout with --output')
  t.equal(r.stderr, `report written to ${file}\n`, 'one line on stderr says where')
  const html = fs.readFileSync(file, 'utf8')
  t.equal(
    (await ok(['report', '--format', 'html', '--by', 'device', '--tz', 'UTC'], env)).stdout,
    html,
    'without --output the same page goes to stdout',
  )

  t.match(html, /^<!doctype html>/)
  t.match(html, /<meta name="viewport" content="width=device-width,initial-scale=1">/, 'sized for phones')
  t.notMatch(html, /https?:\/\//, 'no URL at all, so nothing loads from the network')
  t.notMatch(html, /\b(src|href)\s*=|<script|<link|<iframe|@import|url\(/i, 'no external or scripted resource')
  t.notOk(html.includes(HOSTILE), 'the device name never appears raw')
  t.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co'), 'it appears escaped')

  const daily = await json(env, ['daily', '--by', 'device'])
  const dailyBars = bars(html, 'daily-cost')
  t.same(
    dailyBars.map((b) => [b['data-x'], b['data-series'], Number(b['data-value'])]),
    daily.rows.map((row) => [row.period, row.deviceName, round6(row.costUSD as number)]),
    'one bar per day and device, with its cost',
  )
  t.same(new Set(dailyBars.map((b) => b.fill)), new Set(DEVICE_COLORS.slice(0, 2)), 'a colour per device')
  proportional(t, dailyBars, 'height', 'daily cost')

  const monthly = await json(env, ['monthly', '--by', 'model'])
  const tokensByModel = new Map<string, number>()
  for (const row of monthly.rows)
    tokensByModel.set(row.model as string, (tokensByModel.get(row.model as string) ?? 0) + (row.totalTokens as number))
  const modelBars = bars(html, 'model-tokens')
  t.same(
    Object.fromEntries(modelBars.map((b) => [b['data-series'], Number(b['data-value'])])),
    Object.fromEntries(tokensByModel),
    'one bar per model, with its tokens',
  )
  t.equal(modelBars.length, tokensByModel.size)
  proportional(t, modelBars, 'width', 'tokens by model')

  const blocks = await json(env, ['blocks'])
  const blockBars = bars(html, 'block-cost')
  t.same(
    blockBars.map((b) => [b['data-x'], Number(b['data-value'])]),
    blocks.rows.map((row) => [row.period, round6(row.costUSD as number)]),
    'one bar per 5-hour block',
  )
  proportional(t, blockBars, 'height', 'block cost')

  t.equal(
    html.match(/<tbody>[\s\S]*<\/tbody>/)?.[0].match(/<tr>/g)?.length,
    daily.rows.length,
    'the table has a row per report row',
  )
  t.match(
    html,
    new RegExp(`<dt>Total tokens</dt><dd>${daily.totals.totalTokens!.toLocaleString('en-US')}</dd>`),
    'the totals summary',
  )

  // Keep the page next to its screenshot, for a person to look at.
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  fs.copyFileSync(file, path.join(ARTIFACTS, 'report.html'))

  const chromium = findChromium()
  if (!chromium) {
    t.skip('rendering in a browser skipped: no chromium browser found (install Debian package chromium)', () => {})
    return
  }
  const browse = (args: string[]) => {
    const res = spawnSync(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${fs.mkdtempSync(path.join(root, 'chromium-'))}`,
        ...args,
        `file://${file}`,
      ],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    )
    t.equal(res.status, 0, `chromium ${args[0]} exits 0`, { stderr: res.stderr })
    return res.stdout
  }

  const dom = browse(['--dump-dom'])
  for (const [id, expected] of [
    ['daily-cost', dailyBars.length],
    ['model-tokens', modelBars.length],
    ['block-cost', blockBars.length],
  ] as const) {
    t.equal(bars(dom, id).length, expected, `the browser's DOM has the ${id} SVG with its ${expected} bars`)
  }
  t.notMatch(dom, /<script/, 'the hostile name stayed text in the browser')

  const shot = path.join(ARTIFACTS, 'report-phone.png')
  fs.rmSync(shot, { force: true })
  browse([`--screenshot=${shot}`, '--window-size=412,2000'])
  const png = decodePng(fs.readFileSync(shot))
  t.equal(png.width, 412, 'a phone-wide screenshot')
  const colours = countColours(png)
  const where = (list: string[]) => {
    const found = list.map((c) => colours.get(c)).filter((c) => c !== undefined)
    return {
      pixels: found.reduce((a, c) => a + c.pixels, 0),
      top: Math.min(...found.map((c) => c.top)),
      bottom: Math.max(...found.map((c) => c.bottom)),
    }
  }
  // The legend's swatches are 10×10 pixels; bars are far larger.
  for (const c of DEVICE_COLORS.slice(0, 2))
    t.ok((colours.get(c)?.pixels ?? 0) > 400, `daily bars of ${c} drew`, { pixels: colours.get(c)?.pixels })
  for (const c of MODEL_COLORS.slice(0, tokensByModel.size))
    t.ok((colours.get(c)?.pixels ?? 0) > 50, `model bar of ${c} drew`, { pixels: colours.get(c)?.pixels })
  t.ok((colours.get(BLOCK_COLOR)?.pixels ?? 0) > 400, 'block bars drew')
  const [dailyArea, modelArea, blockArea] = [
    where(DEVICE_COLORS.slice(0, 2)),
    where(MODEL_COLORS),
    where([BLOCK_COLOR]),
  ]
  t.ok(
    dailyArea.bottom < modelArea.top && modelArea.bottom < blockArea.top,
    'the charts lie one below the other, in page order',
    { dailyArea, modelArea, blockArea },
  )
  t.ok(blockArea.bottom < png.height, 'all three charts fit in the phone screenshot')
  // The widest model bar against the narrowest: pixels follow the data.
  const modelPixels = MODEL_COLORS.slice(0, tokensByModel.size).map((c) => colours.get(c)!.pixels)
  const values = [...tokensByModel.values()].sort((a, b) => b - a)
  t.ok(
    Math.abs(modelPixels[0]! / modelPixels[modelPixels.length - 1]! - values[0]! / values[values.length - 1]!) /
      (values[0]! / values[values.length - 1]!) <
      0.15,
    'the first model bar is as many times longer than the last as its tokens',
    { modelPixels, values },
  )
})

function findChromium(): string | null {
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(path.delimiter)]
  for (const dir of dirs)
    for (const name of ['chromium', 'chromium-browser']) {
      const bin = path.join(dir, name)
      try {
        fs.accessSync(bin, fs.constants.X_OK)
        return bin
      } catch {
        /* not here */
      }
    }
  return null
}

/** A PNG's pixels (8-bit RGB or RGBA, not interlaced, as Chromium writes them), decoded with zlib alone. */
function decodePng(buf: Buffer): { width: number; height: number; channels: number; data: Buffer } {
  if (!buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    throw new Error('not a PNG')
  let width = 0,
    height = 0,
    channels = 0
  const idat: Buffer[] = []
  for (let pos = 8; pos < buf.length; ) {
    const len = buf.readUInt32BE(pos),
      type = buf.toString('latin1', pos + 4, pos + 8),
      chunk = buf.subarray(pos + 8, pos + 8 + len)
    if (type === 'IHDR') {
      width = chunk.readUInt32BE(0)
      height = chunk.readUInt32BE(4)
      if (chunk[8] !== 8 || chunk[12] !== 0 || (chunk[9] !== 2 && chunk[9] !== 6))
        throw new Error(`unsupported PNG: depth ${chunk[8]}, colour type ${chunk[9]}, interlace ${chunk[12]}`)
      channels = chunk[9] === 6 ? 4 : 3
    } else if (type === 'IDAT') idat.push(chunk)
    pos += 12 + len
  }
  const raw = inflateSync(Buffer.concat(idat))
  const stride = width * channels
  const data = Buffer.alloc(height * stride)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!,
      src = y * (stride + 1) + 1,
      row = y * stride,
      prev = row - stride
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? data[row + i - channels]! : 0,
        b = y ? data[prev + i]! : 0,
        c = i >= channels && y ? data[prev + i - channels]! : 0
      const p = a + b - c,
        pa = Math.abs(p - a),
        pb = Math.abs(p - b),
        pc = Math.abs(p - c)
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter]
      if (predictor === undefined) throw new Error(`bad PNG filter ${filter}`)
      data[row + i] = (raw[src + i]! + predictor) & 0xff
    }
  }
  return { width, height, channels, data }
}

/** Per opaque colour (#rrggbb): how many pixels, and the first and last row holding one. */
function countColours(png: ReturnType<typeof decodePng>): Map<string, { pixels: number; top: number; bottom: number }> {
  const out = new Map<string, { pixels: number; top: number; bottom: number }>()
  const hex = (v: number) => v.toString(16).padStart(2, '0')
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const i = (y * png.width + x) * png.channels
      if (png.channels === 4 && png.data[i + 3] !== 255) continue
      const key = `#${hex(png.data[i]!)}${hex(png.data[i + 1]!)}${hex(png.data[i + 2]!)}`
      const c = out.get(key)
      if (c) {
        c.pixels++
        c.bottom = y
      } else out.set(key, { pixels: 1, top: y, bottom: y })
    }
  }
  return out
}

/**
 * Lays the page out at a phone's width and measures its summary cards. Headless Chromium never
 * makes a window narrower than 500 px (a --window-size=360 screenshot is a 500 px layout, cut),
 * so the page is laid out in an iframe of the phone's width, a real viewport, measured by a
 * script of the outer test page (the report itself has none).
 */
function measureCards(chromium: string, file: string, width: number, scratch: string) {
  const wrapper = path.join(path.dirname(file), `cards-${width}.html`)
  fs.writeFileSync(
    wrapper,
    `<!doctype html><html><body style="margin:0"><pre id="out"></pre><script>
function measure(f) {
  const doc = f.contentDocument
  const cards = [...doc.querySelectorAll('.cards > div')].map((d) => {
    const dd = d.querySelector('dd'), range = doc.createRange()
    range.selectNodeContents(dd)
    const text = range.getBoundingClientRect(), box = dd.getBoundingClientRect(), card = d.getBoundingClientRect()
    return { name: d.querySelector('dt').textContent, value: dd.textContent, lines: range.getClientRects().length, textLeft: text.left, textRight: text.right, ddLeft: box.left, ddRight: box.right, cardRight: card.right, scroll: dd.scrollWidth, client: dd.clientWidth }
  })
  document.getElementById('out').textContent = JSON.stringify({ viewport: doc.documentElement.clientWidth, pageWidth: doc.documentElement.scrollWidth, cards })
}
</script><iframe src="${path.basename(file)}" onload="measure(this)" style="width:${width}px;height:3000px;border:0"></iframe></body></html>`,
  )
  const res = spawnSync(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--allow-file-access-from-files',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${fs.mkdtempSync(path.join(scratch, 'chromium-'))}`,
      '--dump-dom',
      `file://${wrapper}`,
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  )
  const out = /<pre id="out">(.*?)<\/pre>/s.exec(res.stdout)?.[1]
  if (res.status !== 0 || !out)
    throw new Error(`chromium measured nothing at ${width} px (exit ${res.status}): ${res.stderr}`)
  return JSON.parse(unescapeHtml(out)) as {
    viewport: number
    pageWidth: number
    cards: Array<{
      name: string
      value: string
      lines: number
      textLeft: number
      textRight: number
      ddLeft: number
      ddRight: number
      cardRight: number
      scroll: number
      client: number
    }>
  }
}

t.test('report --format html: the summary cards hold 10- and 11-digit totals on a phone, one line each', async (t) => {
  const root = t.testdir()
  fs.mkdirSync(path.join(root, 'home'))
  const env = isolatedEnv(root)
  // Totals of ten and eleven digits in every card (Total tokens: 23,345,678,899).
  const records = [
    {
      ts: '2026-11-20T10:00:00Z',
      model: 'claude-opus-4-1-20250805',
      input_tokens: 4_987_654_321,
      output_tokens: 1_234_567_890,
      cache_creation_input_tokens: 2_345_678_901,
      cache_read_input_tokens: 8_765_432_109,
    },
    {
      ts: '2026-11-21T10:00:00Z',
      model: 'gpt-5',
      input_tokens: 4_012_345_678,
      output_tokens: 1_000_000_000,
      cache_read_input_tokens: 1_000_000_000,
    },
  ]
  const rec = await cli(['record', '--stdin', '--source', 'my-tool'], {
    env,
    input: `${records.map((r) => JSON.stringify(r)).join('\n')}\n`,
  })
  t.equal(rec.code, 0, rec.stderr)
  const file = path.join(root, 'big.html')
  await ok(['report', '--format', 'html', '--output', file, '--tz', 'UTC'], env)
  const totals = JSON.parse((await ok(['report', '--json', '--tz', 'UTC'], env)).stdout).totals as Record<
    string,
    number
  >
  t.equal(totals.totalTokens, 23_345_678_899, 'an 11-digit total')
  const html = fs.readFileSync(file, 'utf8')
  for (const k of ['input', 'output', 'cacheWrite', 'cacheRead'] as const)
    t.ok(
      html.includes(`<dd>${totals[k]!.toLocaleString('en-US')}</dd>`),
      `the ${k} card holds ${totals[k]!.toLocaleString('en-US')}`,
    )

  const chromium = findChromium()
  if (!chromium) {
    t.skip('layout in a browser skipped: no chromium browser found (install Debian package chromium)', () => {})
    return
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  fs.copyFileSync(file, path.join(ARTIFACTS, 'report-big-numbers.html'))
  for (const width of [320, 360, 390, 412]) {
    const m = measureCards(chromium, file, width, root)
    t.equal(m.viewport, width, `${width} px: the page is laid out ${width} px wide`)
    t.ok(m.pageWidth <= width, `${width} px: nothing scrolls sideways`, { pageWidth: m.pageWidth })
    t.equal(m.cards.length, 8, `${width} px: eight cards`)
    for (const c of m.cards) {
      t.ok(
        c.textLeft >= c.ddLeft - 0.5 && c.textRight <= c.ddRight + 0.5 && c.scroll <= c.client && c.cardRight <= width,
        `${width} px: "${c.name}" (${c.value}) stays inside its card`,
        c,
      )
      t.equal(c.lines, 1, `${width} px: "${c.name}" is on one line`)
    }
  }
})
