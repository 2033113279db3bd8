import { useEffect, useState } from 'react'
import { accessFrom } from './cards/LoopCard'
import { Badge } from './components/Badge'
import { Button } from './components/Button'
import { ConnectionBanner, connectionLabel } from './components/ConnectionBanner'
import { Mascot, moodFor } from './components/Mascot'
import { StatusPill, loopTone, tradingTone } from './components/StatusPill'
import { Toasts } from './components/Toasts'
import { loadConfig } from './lib/config'
import type { PageConfig } from './lib/config'
import type { BridgeClientOptions } from './lib/connection'
import { useBridge } from './lib/useBridge'
import { sourceClock } from './lib/time'
import { useTheme } from './theme/ThemeContext'
import { JournalView } from './views/JournalView'
import { MainView } from './views/MainView'
import { StyleGuideView } from './views/StyleGuideView'

export type Route = 'main' | 'journal' | 'style'

/** The view a location hash names: #/journal, #/style, anything else the main grid. */
export function routeOf(hash: string): Route {
  const h = hash.replace(/^#\/?/, '')
  return h === 'journal' ? 'journal' : h === 'style' ? 'style' : 'main'
}

function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => routeOf(window.location.hash))
  useEffect(() => {
    const on = () => setRoute(routeOf(window.location.hash))
    window.addEventListener('hashchange', on)
    return () => window.removeEventListener('hashchange', on)
  }, [])
  return route
}

export interface AppProps {
  /** Tests pass a config and client options (fake socket, timers) instead of loading them. */
  config?: PageConfig
  clientOptions?: Partial<BridgeClientOptions>
}

export function App({ config: given, clientOptions }: AppProps) {
  const [config, setConfig] = useState<PageConfig | null>(given ?? null)
  useEffect(() => {
    if (given) return
    let live = true
    void loadConfig().then((c) => live && setConfig(c))
    return () => {
      live = false
    }
  }, [given])

  const bridge = useBridge(config, clientOptions)
  const { model, connection } = bridge
  const { theme, toggle } = useTheme()
  const route = useRoute()
  const connected = connection?.status === 'open'
  const access = accessFrom(model.hello, config?.readOnly ?? false, connected, bridge.token)
  const state = model.state
  const label = connectionLabel(connection)

  return (
    <div className="app">
      <header className="topbar">
        <a className="brand" href="#/">
          <Mascot mood={moodFor(state, connected)} size={40} testId="header-mascot" />
          <span className="brand__name">kalashi</span>
        </a>
        <nav aria-label="Views" className="nav">
          <a href="#/" aria-current={route === 'main' ? 'page' : undefined}>
            Dashboard
          </a>
          <a href="#/journal" aria-current={route === 'journal' ? 'page' : undefined}>
            Journal
          </a>
          <a href="#/style" aria-current={route === 'style' ? 'page' : undefined}>
            Style guide
          </a>
        </nav>
        <div className="topbar__status">
          {state ? <Badge tone={state.mode === 'live' ? 'negative' : 'accent'}>{state.mode}</Badge> : null}
          {state ? <StatusPill label={`loop ${state.loop.status}`} tone={loopTone(state.loop.status)} /> : null}
          {state ? <StatusPill label={state.trading_state} tone={tradingTone(state.trading_state)} /> : null}
          {access.readOnly ? <Badge tone="warning">read-only</Badge> : null}
          <StatusPill
            label={label}
            tone={connected ? 'positive' : connection?.status === 'reconnecting' ? 'negative' : 'warning'}
            pulse={connected}
            testId="connection-status"
            title={connection ? `${connection.url}${model.hello ? ` — ${model.hello.server}` : ''}` : undefined}
          />
          <Button variant="ghost" onClick={toggle} testId="btn-theme" aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>
            {theme === 'dark' ? '☀' : '☾'}
          </Button>
        </div>
      </header>
      <ConnectionBanner info={connection} hasData={state !== null} onRetry={bridge.retryNow} now={clientOptions?.now} />
      {model.hello && model.hello.protocol !== 1 ? (
        <div className="connection-banner" role="alert">
          This page speaks bridge protocol 1; the bridge ({model.hello.server}) speaks {String(model.hello.protocol)}. Some values may not show.
        </div>
      ) : null}
      <main className="content">
        {route === 'main' ? (
          <MainView model={model} connected={connected} access={access} send={bridge.send} setToken={bridge.setToken} activity={bridge.activity} />
        ) : route === 'journal' ? (
          <JournalView journal={state?.journal ?? []} market={sourceClock(state)} loading={!state} />
        ) : (
          <StyleGuideView />
        )}
      </main>
      <footer className="footer">
        {model.hello ? <span>{model.hello.server}</span> : null}
        <span>protocol 1</span>
      </footer>
      <Toasts toasts={bridge.toasts} onDismiss={bridge.dismissToast} />
    </div>
  )
}
