import { EquityCard } from '../cards/EquityCard'
import { ExecutionCard } from '../cards/ExecutionCard'
import { HealthCard } from '../cards/HealthCard'
import { InsightsCard } from '../cards/InsightsCard'
import { LoopCard } from '../cards/LoopCard'
import type { ControlAccess } from '../cards/LoopCard'
import { OpportunitiesCard } from '../cards/OpportunitiesCard'
import { OrdersCard } from '../cards/OrdersCard'
import { PerformanceCard } from '../cards/PerformanceCard'
import { PositionsCard } from '../cards/PositionsCard'
import { RiskCard } from '../cards/RiskCard'
import type { Activity } from '../lib/activity'
import type { CommandOutcome } from '../lib/commands'
import type { CommandName } from '../lib/protocol'
import type { DashboardModel } from '../lib/reducer'

export interface MainViewProps {
  model: DashboardModel
  connected: boolean
  access: ControlAccess
  send: (cmd: CommandName, args?: Record<string, unknown>) => Promise<CommandOutcome | null>
  setToken: (token: string) => void
  activity?: Activity[]
}

/** The bento grid: every card reads only from the bridge's state and records. */
export function MainView({ model, connected, access, send, setToken, activity = [] }: MainViewProps) {
  const { state } = model
  return (
    <div className={`bento${connected ? '' : ' bento--stale'}`} data-testid="main-view">
      <EquityCard state={state} />
      <LoopCard state={state} access={access} send={send} setToken={setToken} activity={activity} />
      <PerformanceCard state={state} />
      <RiskCard state={state} />
      <HealthCard state={state} connected={connected} />
      <PositionsCard state={state} />
      <OrdersCard state={state} />
      <OpportunitiesCard state={state} decisions={model.decisions} />
      <ExecutionCard state={state} lastIteration={model.lastIteration} />
      <InsightsCard state={state} />
    </div>
  )
}
