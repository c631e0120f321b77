/**
 * A store (DESIGN §6): home paths, config, this device's identity and the git backend,
 * opened on demand so that a run with nothing to do never starts git.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../env.js'
import type { BackendChoice, GitBackend } from '../git/index.js'
import { parseBackendChoice } from '../git/choice.js'
import { createConfig, homePaths, readConfig, resolveHome, writeConfig, type Config, type HomePaths } from './home.js'
import { resolveDeviceId, TOOL, type DeviceIdSource, type DeviceInfo } from './device.js'
import { randomHex } from '../ledger/hash.js'
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
  /** Where this run's device id came from (a flag, the environment, config, …). */
  deviceSource: DeviceIdSource = 'config'
  /**
   * The id this store wrote as before a --device-id that differs from it (its branch's
   * records that the remote lacks move to the new id: see lib/branch/move.ts); else undefined.
   */
  previousId?: string
  /** Ids made up by this run (not read from config): another first run may have saved its own. */
  private made = { deviceId: false, installId: false }

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
      if (!fs.existsSync(path.join(paths.gitdir, 'HEAD')))
        throw usageError('BAD_REPO', `--repo ${opts.repo} is not a git repository; pass a clone of the ledger remote`)
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
    const initialized = fs.existsSync(path.join(paths.gitdir, 'HEAD'))
    const r = resolveDeviceId(env, config, opts.deviceId, initialized && !opts.repo)
    const made = { deviceId: false, installId: false }
    // A 'legacy' id too: a first run that finds the repository another first run just made
    // (but not its config yet) looks like an old store; whatever config wins the race decides.
    if (r.save) {
      config.deviceId = r.own
      made.deviceId = r.ownSource !== 'config'
    }
    if (!config.installId) {
      config.installId = randomHex(16)
      made.installId = true
    }
    const name = opts.name ?? config.deviceName ?? env.hostname
    const gitChoice = opts.git && opts.git !== 'auto' ? opts.git : parseBackendChoice(config.git?.backend)
    const store = new Store(
      env,
      paths,
      config,
      { id: r.id, name, platform: env.platform, tool: TOOL, installId: config.installId },
      gitChoice,
    )
    store.deviceSource = r.source
    store.made = made
    if ((r.source === 'flag' || r.source === 'env') && r.id !== r.own && initialized && !opts.repo && !made.deviceId)
      store.previousId = r.own
    return store
  }

  get initialized(): boolean {
    return fs.existsSync(`${this.paths.gitdir}/HEAD`)
  }

  /** Creates home, repository and config when missing (zero-config use: `record` does this). */
  async ensureInit(): Promise<void> {
    try {
      fs.mkdirSync(this.paths.state, { recursive: true })
    } catch (e) {
      throw opError(
        'HOME_UNWRITABLE',
        `cannot create ${this.paths.state}: ${(e as Error).message}; pass a writable --home`,
        e,
      )
    }
    if (!this.initialized) {
      try {
        await (await this.git()).init()
      } catch (e) {
        // Two first runs at once: the other one made the repository, which is all we wanted.
        if (!this.initialized) throw e
      }
    }
    if (createConfig(this.paths.config, this.config)) return
    // Another run created it first (or an older version did): its ids win over ones made up here.
    const file = readConfig(this.paths.config)
    if (file.deviceId && this.made.deviceId) {
      if (this.device.id === this.config.deviceId) this.device.id = file.deviceId
      this.config.deviceId = file.deviceId
      this.made.deviceId = false
    }
    if (file.installId && this.made.installId) {
      this.config.installId = this.device.installId = file.installId
      this.made.installId = false
    }
    if (!file.deviceId || !file.installId)
      writeConfig(this.paths.config, {
        ...file,
        deviceId: file.deviceId ?? this.config.deviceId,
        installId: file.installId ?? this.config.installId,
      })
  }

  /** The backend `--git auto` stands for here (system when git is installed, else iso). */
  async backendName(): Promise<'system' | 'iso'> {
    if (this.gitChoice !== 'auto') return this.gitChoice
    const { hasSystemGit } = await import('../git/index.js')
    return hasSystemGit() ? 'system' : 'iso'
  }

  saveConfig(): void {
    writeConfig(this.paths.config, this.config)
  }

  /**
   * Whether this device's branch has commits the remote has not acknowledged (a cheap file
   * check). A ref without a loose file is looked up in `packed-refs`, where a `git gc` the user
   * ran, or the one `git fetch` starts, moves it.
   */
  hasPending(): boolean {
    let packed: string | undefined
    const read = (ref: string) => {
      try {
        return fs.readFileSync(path.join(this.paths.gitdir, ref), 'utf8').trim()
      } catch {
        try {
          packed ??= fs.readFileSync(path.join(this.paths.gitdir, 'packed-refs'), 'utf8')
        } catch {
          return null
        }
        return new RegExp(`^([0-9a-f]{40}) ${ref}$`, 'm').exec(packed)?.[1] ?? null
      }
    }
    const local = read(`refs/heads/ledger/${this.device.id}`)
    return local !== null && local !== read(`refs/remotes/origin/ledger/${this.device.id}`)
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

  /** Runs `job` holding the store lock, released however it ends. */
  async locked<T>(job: () => Promise<T>): Promise<T> {
    const lock = await this.lock()
    try {
      return await job()
    } finally {
      lock.release()
    }
  }

  async close(): Promise<void> {
    await this.backend?.close()
    this.backend = null
  }
}
