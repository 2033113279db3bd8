// The React side of the bridge connection: model, connection status, commands and toasts.

import { useCallback, useEffect, useReducer, useRef, useState } from 'react'
import { describeResult, reduceActivity, settledByLog } from './activity'
import type { Activity, ActivityAction } from './activity'
import { BridgeClient } from './connection'
import type { BridgeClientOptions, ConnectionInfo } from './connection'
import type { CommandEvent, CommandOutcome } from './commands'
import type { PageConfig } from './config'
import type { CommandName, ServerMessage } from './protocol'
import { emptyModel, reduceModel } from './reducer'
import type { DashboardModel } from './reducer'
import { readToken, writeToken } from './token'
import type { Toast } from '../components/Toasts'

const TOAST_MS = 8000

const COMMAND_WORDS: Record<CommandName, string> = {
  start: 'Start',
  pause: 'Pause',
  stop: 'Stop',
  halt: 'Halt',
  flatten: 'Flatten',
  set_profile: 'Switch profile',
  get_state: 'Refresh',
}

/** The toast for a command's outcome. */
export function toastFor(outcome: CommandOutcome, id: number): Toast {
  const what = COMMAND_WORDS[outcome.cmd]
  if (outcome.ok) {
    return { id, tone: 'positive', title: `${what}: done`, message: describeResult(outcome.cmd, outcome.result) || 'The bridge accepted the command.' }
  }
  if (outcome.code === 'disconnected') {
    return {
      id,
      tone: 'info',
      title: `${what}: no answer yet`,
      message: `${outcome.message}. If it ran, its result shows under Commands once the page is back in touch with the bridge.`,
    }
  }
  return { id, tone: 'negative', title: `${what}: ${outcome.code.replace(/_/g, ' ')}`, message: outcome.message }
}

/** The toast for a command whose answer was lost with the connection and came with a later state. */
export function toastForSettled(a: Activity, id: number): Toast {
  const what = COMMAND_WORDS[a.cmd]
  return a.status === 'done'
    ? { id, tone: 'positive', title: `${what} (sent before the connection dropped): done`, message: describeResult(a.cmd, a.result) }
    : { id, tone: 'negative', title: `${what} (sent before the connection dropped): failed`, message: a.error ?? '' }
}

export interface Bridge {
  model: DashboardModel
  /** Control commands: this page's and the bridge's log, newest first. */
  activity: Activity[]
  connection: ConnectionInfo | null
  token: string | null
  setToken: (token: string) => void
  send: (cmd: CommandName, args?: Record<string, unknown>) => Promise<CommandOutcome | null>
  retryNow: () => void
  toasts: Toast[]
  dismissToast: (id: number) => void
}

export function useBridge(config: PageConfig | null, clientOptions: Partial<BridgeClientOptions> = {}): Bridge {
  const [model, dispatch] = useReducer(reduceModel, emptyModel)
  const [activity, setActivity] = useState<Activity[]>([])
  const activityRef = useRef<Activity[]>([])
  const [connection, setConnection] = useState<ConnectionInfo | null>(null)
  const [token, setTokenState] = useState<string | null>(() => readToken())
  const [toasts, setToasts] = useState<Toast[]>([])
  const tokenRef = useRef(token)
  const clientRef = useRef<BridgeClient | null>(null)
  const toastId = useRef(0)
  const optionsRef = useRef(clientOptions)

  const dismissToast = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), [])
  const pushToast = useCallback(
    (make: (id: number) => Toast) => {
      const id = ++toastId.current
      setToasts((ts) => [...ts.slice(-4), make(id)])
      setTimeout(() => dismissToast(id), TOAST_MS)
    },
    [dismissToast],
  )

  useEffect(() => {
    if (!config) return
    const now = optionsRef.current.now ?? (() => Date.now())
    // folded here, outside React's updater functions, so the toast for a late result is pushed once
    const fold = (action: ActivityAction) => {
      const before = activityRef.current
      const after = reduceActivity(before, action)
      activityRef.current = after
      setActivity(after)
      if (action.type === 'log') for (const a of settledByLog(before, after)) pushToast((id) => toastForSettled(a, id))
    }
    const onCommandEvent = (event: CommandEvent) => fold({ type: 'event', event, at: now() })
    const onMessage = (msg: ServerMessage) => {
      switch (msg.type) {
        case 'hello':
          dispatch({ type: 'hello', hello: msg })
          break
        case 'state':
          dispatch({ type: 'state', state: msg.state })
          if (Array.isArray(msg.state.commands)) fold({ type: 'log', entries: msg.state.commands })
          break
        case 'record':
          dispatch({ type: 'record', record: msg.record })
          break
        case 'error':
          // An error that answers none of our commands (bad frame, server trouble).
          pushToast((id) => ({ id, tone: 'negative', title: `Bridge error: ${msg.code.replace(/_/g, ' ')}`, message: msg.message }))
          break
        case 'ack':
        case 'progress':
          break
      }
    }
    const client = new BridgeClient({
      url: config.wsUrl,
      onMessage,
      onStatus: setConnection,
      getToken: () => tokenRef.current,
      onCommandEvent,
      ...optionsRef.current,
    })
    clientRef.current = client
    client.start()
    return () => {
      client.stop()
      clientRef.current = null
    }
  }, [config, pushToast])

  const setToken = useCallback((t: string) => {
    writeToken(t)
    tokenRef.current = t || null
    setTokenState(t || null)
  }, [])

  const send = useCallback(
    async (cmd: CommandName, args: Record<string, unknown> = {}) => {
      const client = clientRef.current
      if (!client) return null
      const outcome = await client.commands.send(cmd, args)
      pushToast((id) => toastFor(outcome, id))
      return outcome
    },
    [pushToast],
  )

  const retryNow = useCallback(() => clientRef.current?.retryNow(), [])

  return { model, activity, connection, token, setToken, send, retryNow, toasts, dismissToast }
}
