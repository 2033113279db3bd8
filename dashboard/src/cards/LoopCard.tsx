// The loop and its controls. Commands need an open connection, a bridge that is not read-only
// and (when the bridge asks for one) the control token; otherwise the buttons say why not.

import { useCallback, useState } from 'react'
import type { FormEvent } from 'react'
import { Button } from '../components/Button'
import { CommandList } from '../components/CommandList'
import { Dialog } from '../components/Dialog'
import { GlassCard } from '../components/GlassCard'
import { Stat } from '../components/Stat'
import { StatusPill, loopTone } from '../components/StatusPill'
import type { Activity } from '../lib/activity'
import type { CommandOutcome } from '../lib/commands'
import type { BridgeState, CommandName, HelloMessage } from '../lib/protocol'

export interface ControlAccess {
  connected: boolean
  readOnly: boolean
  tokenRequired: boolean
  token: string | null
}

/** Why control commands cannot be sent now, or null when they can. */
export function controlBlock({ connected, readOnly, tokenRequired, token }: ControlAccess): string | null {
  if (!connected) return 'Not connected to the bridge: commands cannot be sent.'
  if (readOnly) return 'The bridge is read-only: it was started without control commands.'
  if (tokenRequired && !token) return 'Enter the control token to send commands.'
  return null
}

/** The access the page has, from the hello message and config.json. */
export function accessFrom(hello: HelloMessage | null, configReadOnly: boolean, connected: boolean, token: string | null): ControlAccess {
  return {
    connected: connected && hello !== null,
    readOnly: configReadOnly || hello?.read_only === true,
    tokenRequired: hello?.token_required !== false,
    token,
  }
}

type Send = (cmd: CommandName, args?: Record<string, unknown>) => Promise<CommandOutcome | null>

export interface LoopCardProps {
  state: BridgeState | null
  access: ControlAccess
  send: Send
  setToken: (token: string) => void
  /** The control commands and how each went (lib/activity). */
  activity?: Activity[]
}

type Asking = null | 'halt' | 'flatten' | 'resume' | 'profile'

/** The profiles the page offers: those the bridge accepts, the current one first if it is missing. */
export function profileChoices(state: BridgeState | null): string[] {
  const offered = Array.isArray(state?.profiles) ? state.profiles : []
  const current = state?.loop?.profile
  return current && !offered.includes(current) ? [current, ...offered] : [...offered]
}

export function LoopCard({ state, access, send, setToken, activity = [] }: LoopCardProps) {
  const [asking, setAsking] = useState<Asking>(null)
  const [reason, setReason] = useState('')
  const [profile, setProfile] = useState('')
  const [tokenDraft, setTokenDraft] = useState('')
  // commands of this card still waiting for their answer (a halt may go in behind a long flatten)
  const [waiting, setWaiting] = useState(0)
  const busy = waiting > 0
  const blocked = controlBlock(access)
  const loop = state?.loop
  const halted = state?.trading_state === 'HALTED'

  const run = useCallback(
    async (cmd: CommandName, args: Record<string, unknown> = {}) => {
      setWaiting((n) => n + 1)
      try {
        await send(cmd, args)
      } finally {
        setWaiting((n) => n - 1)
      }
    },
    [send],
  )
  const close = useCallback(() => setAsking(null), [])

  const why = (own: string | null) => blocked ?? (busy ? 'Waiting for the bridge to answer the last command.' : own)
  const startWhy = why(!state ? 'No state from the bridge yet.' : loop?.status === 'running' && !halted ? 'The loop is already running.' : null)
  const pauseWhy = why(!state ? 'No state from the bridge yet.' : loop?.status !== 'running' ? 'Only a running loop can pause.' : null)
  const stopWhy = why(!state ? 'No state from the bridge yet.' : loop?.status === 'stopped' ? 'The loop is already stopped.' : null)
  // Halt is never held back by a command in hand: the bridge queues it right behind (an emergency
  // must not wait for a flatten to answer before it can even be sent)
  const haltWhy = blocked ?? (!state ? 'No state from the bridge yet.' : halted ? 'Trading is already halted.' : null)
  const flattenWhy = why(!state ? 'No state from the bridge yet.' : null)
  const choices = profileChoices(state)
  const profileWhy = why(
    !state
      ? 'No state from the bridge yet.'
      : choices.length <= 1
        ? 'The bridge offers no other profile.'
        : !profile || profile === loop?.profile
          ? 'Pick another profile first.'
          : null,
  )

  const onToken = (e: FormEvent) => {
    e.preventDefault()
    setToken(tokenDraft.trim())
    setTokenDraft('')
  }

  return (
    <GlassCard title="Loop" testId="card-loop" aside={<StatusPill label={loop?.status ?? '—'} tone={loopTone(loop?.status)} pulse={loop?.status === 'running'} testId="loop-status" />}>
      <div className="stat-grid">
        <Stat label="Iteration" kind="int" value={loop?.iteration} testId="iteration" />
        <Stat label="Every" kind="number" value={loop?.interval_s} unit=" s" testId="interval" />
        <Stat label="Source" kind="text" wide value={loop?.source} testId="source" />
        <Stat label="Profile" kind="text" value={loop?.profile} testId="profile" />
      </div>

      <div className="controls" role="group" aria-label="Loop controls">
        <Button variant="primary" testId="btn-start" disabled={!!startWhy} disabledReason={startWhy} onClick={() => (halted ? setAsking('resume') : run('start'))}>
          Start
        </Button>
        <Button testId="btn-pause" disabled={!!pauseWhy} disabledReason={pauseWhy} onClick={() => run('pause')}>
          Pause
        </Button>
        <Button testId="btn-stop" disabled={!!stopWhy} disabledReason={stopWhy} onClick={() => run('stop')}>
          Stop
        </Button>
        <Button variant="danger" testId="btn-halt" disabled={!!haltWhy} disabledReason={haltWhy} onClick={() => setAsking('halt')}>
          Halt…
        </Button>
        <Button variant="danger" testId="btn-flatten" disabled={!!flattenWhy} disabledReason={flattenWhy} onClick={() => setAsking('flatten')}>
          Flatten…
        </Button>
      </div>
      {blocked ? (
        <p className="controls__why" data-testid="controls-blocked">
          {blocked}
        </p>
      ) : null}

      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault()
          if (!profileWhy) setAsking('profile')
        }}
      >
        <label htmlFor="profile-name">Profile</label>
        <select id="profile-name" data-testid="profile-select" value={profile || loop?.profile || ''} onChange={(e) => setProfile(e.target.value)} disabled={choices.length <= 1}>
          {choices.length === 0 ? <option value="">—</option> : null}
          {choices.map((name) => (
            <option key={name} value={name}>
              {name}
              {name === loop?.profile ? ' (active)' : ''}
            </option>
          ))}
        </select>
        <Button type="submit" testId="btn-set-profile" disabled={!!profileWhy} disabledReason={profileWhy}>
          Switch…
        </Button>
      </form>

      {access.tokenRequired && !access.readOnly ? (
        <form className="inline-form" onSubmit={onToken}>
          <label htmlFor="control-token">Control token</label>
          <input
            id="control-token"
            type="password"
            autoComplete="off"
            data-testid="token-input"
            value={tokenDraft}
            onChange={(e) => setTokenDraft(e.target.value)}
            placeholder={access.token ? 'saved for this tab' : 'paste the token'}
          />
          <Button type="submit" testId="btn-save-token" disabled={!tokenDraft.trim()} disabledReason="Type the token first.">
            Save
          </Button>
          {access.token ? (
            <Button variant="ghost" testId="btn-forget-token" onClick={() => setToken('')}>
              Forget
            </Button>
          ) : null}
        </form>
      ) : null}

      {asking === 'halt' ? (
        <Dialog title="Halt trading" onCancel={close} testId="dialog-halt">
          <form
            onSubmit={(e) => {
              e.preventDefault()
              if (!reason.trim()) return
              close()
              void run('halt', { reason: reason.trim() })
              setReason('')
            }}
          >
            <p>Halting cancels resting orders and lets only reducing orders through. Say why, for the journal.</p>
            <label htmlFor="halt-reason">Reason</label>
            <input id="halt-reason" data-testid="halt-reason-input" value={reason} onChange={(e) => setReason(e.target.value)} required />
            <div className="dialog__actions">
              <Button variant="ghost" onClick={close}>
                Cancel
              </Button>
              <Button type="submit" variant="danger" testId="btn-halt-confirm" disabled={!reason.trim()} disabledReason="A reason is required.">
                Halt trading
              </Button>
            </div>
          </form>
        </Dialog>
      ) : null}

      {asking === 'flatten' ? (
        <Dialog title="Flatten everything?" onCancel={close} testId="dialog-flatten">
          <p>
            This cancels every resting order and sends reduce-only orders to close all {state?.positions.length ?? 0} open positions,
            through the risk gate. It cannot be undone.
          </p>
          <div className="dialog__actions">
            <Button variant="ghost" onClick={close}>
              Cancel
            </Button>
            <Button
              variant="danger"
              testId="btn-flatten-confirm"
              onClick={() => {
                close()
                void run('flatten')
              }}
            >
              Flatten
            </Button>
          </div>
        </Dialog>
      ) : null}

      {asking === 'resume' ? (
        <Dialog title="Trading is halted" onCancel={close} testId="dialog-resume">
          <p>
            Halted{state?.halt_reason ? `: ${state.halt_reason}` : ''}. Start the loop and also clear the halt, or start it with trading
            still halted (only reducing orders)?
          </p>
          <div className="dialog__actions">
            <Button variant="ghost" onClick={close}>
              Cancel
            </Button>
            <Button
              testId="btn-start-halted"
              onClick={() => {
                close()
                void run('start')
              }}
            >
              Start, stay halted
            </Button>
            <Button
              variant="primary"
              testId="btn-start-clear-halt"
              onClick={() => {
                close()
                void run('start', { clear_halt: true })
              }}
            >
              Start and clear halt
            </Button>
          </div>
        </Dialog>
      ) : null}

      {asking === 'profile' ? (
        <Dialog title="Switch profile?" onCancel={close} testId="dialog-profile">
          <p>
            Switch the loop from profile <strong>{loop?.profile ?? '—'}</strong> to <strong data-testid="profile-target">{profile}</strong>? From the next
            iteration its limits, sizing and strategies apply to every new order.
          </p>
          <div className="dialog__actions">
            <Button variant="ghost" onClick={close}>
              Cancel
            </Button>
            <Button
              variant="primary"
              testId="btn-set-profile-confirm"
              onClick={() => {
                close()
                const name = profile
                setProfile('')
                void run('set_profile', { name })
              }}
            >
              Switch to {profile}
            </Button>
          </div>
        </Dialog>
      ) : null}

      <CommandList activity={activity} />
    </GlassCard>
  )
}
