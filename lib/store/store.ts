/**
 * A store (DESIGN §6): home paths, config, this device's identity and the git backend,
 * opened on demand so that a run with nothing to do never starts git.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../env.js'
import type { BackendChoice, GitBackend } from '../git/index.js'
import { parseBackendChoice } from '../git/choice.js'
import { homePaths, readConfig, resolveHome, writeConfig, type Config, type HomePaths } from './home.js'
import { resolveDeviceId } from './device.js'
import { TOOL, type DeviceInfo } from './writer.js'
import { StoreLock } from './lock.js'
import { opError, usageError } from '../errors.js'

export interface StoreOptions {
  home?: string
  /** A native clone to read instead of the store's repository (DESIGN §6 `--repo`). */
  repo?: string
  git?: BackendChoice
  deviceId?: string
  name?: string
}

export class Store {
  private backend: GitBackend | null = null

  private constructor(
    readonly env: Env,
    readonly paths: HomePaths,
    public config: Config,
    readonly device: DeviceInfo,
    private readonly gitChoice: BackendChoice,
  ) {}

  static open(env: Env, opts: StoreOptions = {}): Store {
    const paths = homePaths(resolveHome(env, opts.home))
    if (opts.repo) {
      const dir = path.resolve(env.cwd, opts.repo)
      paths.gitdir = fs.existsSync(path.join(dir, '.git')) ? path.join(dir, '.git') : dir
      if (!fs.existsSync(path.join(paths.gitdir, 'HEAD'))) throw usageError('BAD_REPO', `--repo ${opts.repo} is not a git repository; pass a clone of the ledger remote`)
      // What this tool keeps for a native clone lives inside it (DESIGN §6).
      const own = path.join(paths.gitdir, 'usage-ledger')
      paths.index = path.join(own, 'index')
      paths.state = own
      paths.lock = path.join(own, 'lock')
      paths.verified = path.join(own, 'verified.json')
      paths.proved = path.join(own, 'proved.json')
      paths.quarantine = path.join(own, 'quarantine.json')
    }
    const config = readConfig(paths.config)
    const { id, fromRandom } = resolveDeviceId(env, config, opts.deviceId)
    if (fromRandom) config.deviceId = id
    const name = opts.name ?? config.deviceName ?? env.hostname
    const gitChoice = opts.git && opts.git !== 'auto' ? opts.git : parseBackendChoice(config.git?.backend)
    const store = new Store(env, paths, config, { id, name, platform: env.platform, tool: TOOL }, gitChoice)
    return store
  }

  get initialized(): boolean {
    return fs.existsSync(this.paths.gitdir + '/HEAD')
  }

  /** Creates home, repository and config when missing (zero-config use: `record` does this). */
  async ensureInit(): Promise<void> {
    try {
      fs.mkdirSync(this.paths.state, { recursive: true })
    } catch (e) {
      throw opError('HOME_UNWRITABLE', `cannot create ${this.paths.state}: ${(e as Error).message}; pass a writable --home`, e)
    }
    if (!this.initialized) {
      try {
        await (await this.git()).init()
      } catch (e) {
        // Two first runs at once: the other one made the repository, which is all we wanted.
        if (!this.initialized) throw e
      }
    }
    if (!fs.existsSync(this.paths.config)) writeConfig(this.paths.config, this.config)
    else if (this.config.deviceId && !readConfig(this.paths.config).deviceId) writeConfig(this.paths.config, this.config)
  }

  saveConfig(): void {
    writeConfig(this.paths.config, this.config)
  }

  /** Whether this device's branch has commits the remote has not acknowledged (a cheap file check). */
  hasPending(): boolean {
    const read = (ref: string) => { try { return fs.readFileSync(path.join(this.paths.gitdir, ref), 'utf8').trim() } catch { return null } }
    const local = read(`refs/heads/ledger/${this.device.id}`)
    return local !== null && local !== read(`refs/remotes/origin/ledger/${this.device.id}`)
  }

  /** Keeps a --device-id or --name given on the command line for later runs. */
  remember(opts: { deviceId?: string; name?: string }): void {
    let changed = false
    if (opts.deviceId && this.config.deviceId !== this.device.id) { this.config.deviceId = this.device.id; changed = true }
    if (opts.name && this.config.deviceName !== opts.name) { this.config.deviceName = opts.name; changed = true }
    if (changed) writeConfig(this.paths.config, this.config)
  }

  /** The backend is loaded on first use: a run with nothing new never starts git. */
  async git(): Promise<GitBackend> {
    if (!this.backend) {
      const { openBackend } = await import('../git/index.js')
      this.backend = await openBackend(this.gitChoice, this.paths.gitdir)
    }
    return this.backend
  }

  lock(waitMs?: number): Promise<StoreLock> {
    const v = this.env.vars.USAGE_LEDGER_LOCK_TIMEOUT
    return StoreLock.acquire(this.paths.lock, { waitMs: waitMs ?? (v ? Number(v) * 1000 : undefined) })
  }

  async close(): Promise<void> {
    await this.backend?.close()
    this.backend = null
  }
}
