/** What a card shows until the bridge's first state arrives: not "nothing", but "not yet known". */
export function Loading({ testId }: { testId?: string }) {
  return (
    <p className="empty loading" data-testid={testId} data-loading="true">
      Waiting for the first state from the bridge…
    </p>
  )
}
