/** The tests' HTTP git remote is the demo's (scripts/git-server.ts): one server, and no test code in dist/. */
export * from '../../scripts/git-server.js'
