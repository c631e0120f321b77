import t from 'tap'
import { IsoBackend } from '../../lib/git/iso.js'
import { backendContract } from './contract.js'

backendContract(t, (gitdir) => new IsoBackend(gitdir))
