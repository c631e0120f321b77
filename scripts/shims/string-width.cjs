// Build-time stand-in for `string-width` (CommonJS, so both `require` from cli-table3 and
// `import` from yargs' cliui get the function): the
// real one builds an Intl.Segmenter and a very large emoji regex at start-up, which cost
// more than the rest of a `record` run. Column widths of help and tables are all it decides.
const { stripVTControlCharacters } = require('node:util')

// biome-ignore lint/suspicious/noMisleadingCharacterClass: each code point is tested alone, so a lone variation selector counts as zero width
const ZERO = /[\p{Mn}\p{Me}\p{Cf}\u200b\ufe0f]/u
const WIDE =
  /[\p{Extended_Pictographic}\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]/u

function stringWidth(s) {
  if (typeof s !== 'string' || s.length === 0) return 0
  const t = stripVTControlCharacters(s)
  // eslint-disable-next-line no-control-regex
  if (/^[\x20-\x7e]*$/.test(t)) return t.length
  let w = 0
  for (const ch of t) {
    const cp = ch.codePointAt(0)
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || ZERO.test(ch)) continue
    w += WIDE.test(ch) ? 2 : 1
  }
  return w
}

module.exports = stringWidth
module.exports.default = stringWidth
