import { GlassCard } from '../components/GlassCard'
import { EquityChart } from '../components/EquityChart'
import { Stat } from '../components/Stat'
import { subtractDecimal } from '../lib/decimal'
import type { BridgeState } from '../lib/protocol'
import { Badge } from '../components/Badge'

/** Equity, cash balance and the equity curve. */
export function EquityCard({ state }: { state: BridgeState | null }) {
  const account = state?.account
  const change = account?.equity && account.starting_balance ? subtractDecimal(account.equity, account.starting_balance) : null
  return (
    <GlassCard
      title="Equity"
      span="wide"
      testId="card-equity"
      aside={state ? <Badge tone={state.mode === 'live' ? 'negative' : state.mode === 'demo' ? 'info' : 'accent'} testId="mode">{state.mode}</Badge> : null}
    >
      <div className="stat-row">
        <Stat label="Equity" kind="money" value={account?.equity} big testId="equity" />
        <Stat label="Cash balance" kind="money" value={account?.balance} testId="balance" />
        <Stat label="Since start" kind="money" value={change} signed testId="equity-change" hint="equity − starting balance" />
        <Stat label="Starting balance" kind="money" value={account?.starting_balance} testId="starting-balance" />
        {account?.equity_marked != null ? (
          <Stat label="Marked" kind="money" value={account.equity_marked} testId="equity-marked"
            hint="the part of equity valued at marks (open books, closed markets' last marks); the rest is cash and known results" />
        ) : null}
      </div>
      <EquityChart points={state?.equity_curve ?? []} loading={!state} />
    </GlassCard>
  )
}
