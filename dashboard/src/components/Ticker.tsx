import { Fragment } from 'react'

/** A market ticker that may wrap after its hyphens (KXBTC-26DEC31-T100000) rather than widen a table. */
export function Ticker({ ticker }: { ticker: string }) {
  const parts = ticker.split('-')
  return (
    <span className="ticker">
      {parts.map((p, i) => (
        <Fragment key={i}>
          {p}
          {i < parts.length - 1 ? (
            <>
              -<wbr />
            </>
          ) : null}
        </Fragment>
      ))}
    </span>
  )
}
