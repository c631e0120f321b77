/**
 * The name a model is priced under (DESIGN §9). Records keep the name the agent logged; only the
 * lookup sees this one. Agents log one model under many names: a reseller's or router's provider
 * prefix (`openrouter/anthropic/claude-sonnet-4.5`, `google/gemini-2.5-pro`, Bedrock's
 * `us.anthropic.claude-…-v1:0`), a routing or variant suffix (`:free`, `@us-east5`, `[1m]`, `-1m`,
 * ` (thinking)`, Grok Build's `-build`), Claude's dotted versions (Copilot's `claude-sonnet-4.5`),
 * and the aliases some agents log instead of a model (`coder-model`, `k2p6`, `gemini-3-pro-high`).
 */

/** Names an agent logs that no price list knows, and the model each stands for. */
const ALIASES: Record<string, string> = {
  // Qwen Code's OAuth model (DESIGN §9: priced as the model it serves, at API list price).
  'coder-model': 'qwen3-coder-plus',
  // Kimi's short names and Gemini's without `-preview` (what ccusage 20 maps them to, too).
  k2p5: 'kimi-k2.5',
  k2p6: 'kimi-k2.6',
  k3: 'kimi-k3',
  'gemini-3-pro': 'gemini-3-pro-preview',
  'gemini-3-pro-high': 'gemini-3-pro-preview',
  'gemini-3-pro-low': 'gemini-3-pro-preview',
  'gemini-3-flash': 'gemini-3-flash-preview',
}

export function pricingName(model: string): string {
  let m = model.trim().toLowerCase()
  m = m.replace(/\s*\(.*\)$/, '') // ` (thinking)`, ` (preview)`
  m = m.replace(/\[[^\]]*\]$/, '') // `[1m]`
  m = m.slice(m.lastIndexOf('/') + 1) // provider and router prefixes
  m = m.replace(/^(?:[a-z]{2,4}\.)?anthropic\./, '').replace(/-v\d+(?::\d+)?$/, '') // Bedrock
  m = m.replace(/[:@].*$/, '') // `:free`, `:thinking`, `@us-east5`, Vertex's `@20250929`
  m = m.replace(/-1m$/, '')
  if (m.startsWith('claude-')) m = m.replace(/(\d)\.(\d)/g, '$1-$2')
  if (m.startsWith('grok-')) m = m.replace(/-build(?:-free)?$/, '') // Grok Build's `grok-4.5-build`
  return ALIASES[m] ?? m
}
