import { useId } from 'react'
import type { ReactNode } from 'react'

export interface GlassCardProps {
  title: string
  /** Extra content on the right of the title (a badge, a pill). */
  aside?: ReactNode
  /** Bento placement: wide (2/3), half, tall (two rows), full width. */
  span?: 'wide' | 'half' | 'tall' | 'full' | 'normal'
  testId?: string
  children: ReactNode
}

/** A frosted card with a title: the unit of the bento grid. */
export function GlassCard({ title, aside, span = 'normal', testId, children }: GlassCardProps) {
  const id = useId()
  return (
    <section className={`glass-card span-${span}`} aria-labelledby={id} data-testid={testId}>
      <header className="glass-card__head">
        <h2 id={id}>{title}</h2>
        {aside ? <div className="glass-card__aside">{aside}</div> : null}
      </header>
      <div className="glass-card__body">{children}</div>
    </section>
  )
}
