import { GlassCard } from '../components/GlassCard'
import { Stat } from '../components/Stat'
import type { BridgeState, IterationRecord } from '../lib/protocol'

/** How well orders execute and what the loop costs: latency, slippage, fill rate, API calls. */
export function ExecutionCard({ state, lastIteration }: { state: BridgeState | null; lastIteration: IterationRecord | null }) {
  const m = state?.metrics ?? null
  return (
    <GlassCard title="Execution quality" testId="card-execution">
      <div className="stat-grid">
        <Stat label="Avg latency" kind="number" value={m?.execution?.avg_latency_ms} places={1} unit=" ms" testId="avg-latency" />
        <Stat label="Avg slippage" kind="share" field="avg_slippage_pct" value={m?.execution?.avg_slippage_pct} places={3} testId="avg-slippage" />
        <Stat label="Fill rate" kind="share" field="fill_rate" value={m?.execution?.fill_rate} testId="fill-rate" />
        <Stat label="Cache hit rate" kind="share" field="hit_rate" value={m?.cache?.hit_rate} testId="cache-hit-rate" />
        <Stat label="API calls" kind="int" value={m?.api?.calls} testId="api-calls" />
        <Stat label="Calls / iteration" kind="number" value={m?.api?.calls_per_iteration} places={1} testId="calls-per-iteration" />
        <Stat label="Last iteration" kind="number" value={lastIteration?.duration_ms} places={0} unit=" ms" testId="iteration-duration" />
        <Stat label="Markets scanned" kind="int" value={lastIteration?.markets} testId="iteration-markets" />
      </div>
    </GlassCard>
  )
}
