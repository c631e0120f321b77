// See node-fs.mjs.
import path from 'path'
export default path
