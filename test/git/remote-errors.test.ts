/**
 * How git's words become one error (lib/git/remote-errors.ts): what git printed is kept whole,
 * the message names the cause, refused credentials and a missing repository are told apart
 * from being offline (issue 11, item 7). The texts are git's and ssh's own.
 */
import t from 'tap'
import { classifyGitError, gitErrorLines, gitFailed } from '../../lib/git/remote-errors.js'

const URL = 'https://git.example.com/me/ledger.git'
const SSH = 'ssh://git@example.com/me/ledger.git'
const BOILER =
  'fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n'

t.test('refused credentials, a missing repository and offline are told apart', async (t) => {
  const cases: Array<[string, string, string, RegExp]> = [
    [
      URL,
      "fatal: unable to access 'https://git.example.com/me/ledger.git/': The requested URL returned error: 403\n",
      'AUTH_FAILED',
      /refused the credentials/,
    ],
    [
      URL,
      "remote: Invalid username or password.\nfatal: Authentication failed for 'https://git.example.com/me/ledger.git/'\n",
      'AUTH_FAILED',
      /USAGE_LEDGER_TOKEN/,
    ],
    [
      URL,
      "remote: Repository not found.\nfatal: repository 'https://git.example.com/me/ledger.git/' not found\n",
      'REMOTE_NOT_FOUND',
      /has no such repository \(Repository not found\.\)/,
    ],
    [
      '/mnt/share/ledger.git',
      `fatal: '/mnt/share/ledger.git' does not appear to be a git repository\n${BOILER}`,
      'REMOTE_NOT_FOUND',
      /no such repository \('\/mnt\/share\/ledger\.git' does not appear to be a git repository\)/,
    ],
    [
      SSH,
      `ssh: connect to host example.com port 22: Connection refused\r\n${BOILER}`,
      'REMOTE_UNREACHABLE',
      /unreachable \(ssh: connect to host example\.com port 22: Connection refused\)/,
    ],
    [
      URL,
      "fatal: unable to access 'https://git.example.com/me/ledger.git/': Could not resolve host: git.example.com\n",
      'REMOTE_UNREACHABLE',
      /Could not resolve host/,
    ],
  ]
  for (const [url, stderr, code, says] of cases) {
    const e = classifyGitError(url, stderr)
    t.equal(e?.code, code, `${stderr.split('\n')[0]!.slice(0, 60)}: ${code}`)
    t.match(e?.message ?? '', says)
  }
  t.equal(
    classifyGitError(SSH, `Host key verification failed.\r\n${BOILER}`),
    null,
    'a host-key failure is none of them',
  )
})

t.test('an unclassified remote failure: the cause in the message, every word of git in the details', async (t) => {
  const stderr =
    '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n' +
    '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n' +
    'Host key verification failed.\r\n' +
    BOILER
  const e = gitFailed('git push ssh://example.com/me/ledger.git', stderr, 128)
  t.equal(e.code, 'GIT_FAILED')
  t.equal(
    e.message,
    'git push ssh://example.com/me/ledger.git failed: Host key verification failed',
    'the cause, not "…and the repository exists."',
  )
  t.same(
    e.details,
    [
      '  git: @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
      '  git: @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
      '  git: Host key verification failed.',
      '  git: fatal: Could not read from remote repository.',
      '  git: Please make sure you have the correct access rights',
      '  git: and the repository exists.',
    ],
    'whole, in order, no blank or carriage-return noise',
  )
  t.same(gitFailed('git fetch x', 'fatal: one line\n', 1).details, [], 'one line: no details repeating it')
  t.equal(gitFailed('git fetch x', '', 141).message, 'git fetch x failed: exit 141', 'silence: the exit code')
})

t.test('a local plumbing failure says everything on its one line', async (t) => {
  const e = gitFailed(
    'git commit-tree',
    'error: unable to create temporary file: No space left on device\nfatal: failed to write commit object\n',
    128,
    true,
  )
  t.equal(
    e.message,
    'git commit-tree failed: unable to create temporary file: No space left on device; failed to write commit object',
  )
  t.same(e.details, [])
})

t.test('credentials in a URL git echoes never reach the user', async (t) => {
  t.same(gitErrorLines("fatal: unable to access 'https://user:s3cret@host/x.git/': error\n"), [
    "fatal: unable to access 'https://host/x.git/': error",
  ])
  t.same(gitErrorLines('a\n'.repeat(50), 3), ['a', 'a', 'a', '… 47 more lines'], 'a flood is cut, and says so')
})
