// The control commands and how each went: queued, running with its progress, done with its
// result (a flatten's positions left open and why), failed with the bridge's reason, or lost with
// the connection until the bridge's log brings its result.

import { describeResult, leftOpen } from '../lib/activity'
import type { Activity } from '../lib/activity'
import type { CommandName } from '../lib/protocol'
import type { Tone } from './Badge'
import { StatusPill } from './StatusPill'
import { TimeStamp } from './TimeStamp'

const WORDS: Record<CommandName, string> = {
  start: 'Start',
  pause: 'Pause',
  stop: 'Stop',
  halt: 'Halt',
  flatten: 'Flatten',
  set_profile: 'Switch profile',
  get_state: 'Refresh',
}

function statusText(a: Activity): string {
  switch (a.status) {
    case 'sending':
      return 'sent'
    case 'queued':
      return 'queued'
    case 'running':
      return a.progress?.total ? `running ${a.progress.done ?? 0}/${a.progress.total}` : 'running'
    case 'done':
      return 'done'
    case 'failed':
      return 'failed'
    case 'lost':
      return 'no answer yet'
  }
}

function toneOf(a: Activity): Tone {
  if (a.status === 'done') return leftOpen(a.result).length ? 'warning' : 'positive'
  if (a.status === 'failed') return 'negative'
  if (a.status === 'lost' || a.quietMs !== null) return 'warning'
  return 'info'
}

function seconds(ms: number | null): string {
  return ms === null ? '' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
}

function argsText(a: Activity): string {
  if (a.cmd === 'halt' && typeof a.args.reason === 'string') return ` — “${a.args.reason}”`
  if (a.cmd === 'set_profile' && typeof a.args.name === 'string') return ` → ${a.args.name}`
  return ''
}

export function CommandList({ activity }: { activity: Activity[] }) {
  if (activity.length === 0) return null
  return (
    <section className="command-log" aria-label="Commands" data-testid="command-log">
      <h3 className="command-log__title">Commands</h3>
      <ol>
        {activity.map((a) => {
          const left = leftOpen(a.result)
          const pct = a.progress?.total ? Math.min(100, Math.round(((a.progress.done ?? 0) / a.progress.total) * 100)) : null
          return (
            <li key={a.key} className="command" data-testid="command" data-status={a.status} data-ref={a.ref ?? undefined} data-cmd={a.cmd}>
              <div className="command__head">
                <strong>{WORDS[a.cmd]}</strong>
                <span className="command__args">{argsText(a)}</span>
                <StatusPill label={statusText(a)} tone={toneOf(a)} testId="command-status" />
                {a.started ? <TimeStamp ts={a.started} clock="wall" /> : a.sentAt !== null ? <TimeStamp ts={a.sentAt} clock="wall" /> : null}
                {a.elapsedMs !== null ? <span className="command__elapsed">{seconds(a.elapsedMs)}</span> : null}
                {a.mine ? null : <span className="command__who">another page</span>}
              </div>
              {(a.status === 'running' || a.status === 'queued') && a.progress ? (
                <div className="command__progress" data-testid="command-progress">
                  {pct !== null ? (
                    <div className="meter" role="progressbar" aria-valuemin={0} aria-valuemax={a.progress.total ?? 0} aria-valuenow={a.progress.done ?? 0} aria-label={`${WORDS[a.cmd]} progress`}>
                      <div className="meter__fill" style={{ width: `${pct}%` }} />
                    </div>
                  ) : null}
                  <span>{a.progress.message}</span>
                </div>
              ) : null}
              {a.quietMs !== null && (a.status === 'sending' || a.status === 'queued' || a.status === 'running') ? (
                <p className="command__quiet" data-testid="command-quiet">
                  No word from the bridge for {Math.round(a.quietMs / 1000)} s — still waiting for its answer, which will show here
                  when it comes.
                </p>
              ) : null}
              {a.status === 'done' ? (
                <p className="command__result" data-testid="command-result">
                  {describeResult(a.cmd, a.result)}
                </p>
              ) : null}
              {a.status === 'failed' || a.status === 'lost' ? (
                <p className="command__error" data-testid="command-error">
                  {a.error}
                  {a.status === 'lost' ? ' — if the bridge ran it, its result will show here once the page is back in touch.' : ''}
                </p>
              ) : null}
              {left.length ? (
                <details className="command__left" open={left.length <= 5}>
                  <summary>
                    {left.length} left open, and why
                  </summary>
                  <ul data-testid="left-open">
                    {left.map(([ticker, why]) => (
                      <li key={ticker}>
                        <span className="mono">{ticker}</span> — {why}
                      </li>
                    ))}
                  </ul>
                </details>
              ) : null}
            </li>
          )
        })}
      </ol>
    </section>
  )
}
