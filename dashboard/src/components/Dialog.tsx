import { useEffect, useRef } from 'react'
import type { ReactNode } from 'react'

/** A modal question: focus moves into it, Escape cancels. */
export function Dialog({ title, children, onCancel, testId }: { title: string; children: ReactNode; onCancel: () => void; testId?: string }) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const first = ref.current?.querySelector<HTMLElement>('input, textarea, button')
    first?.focus()
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onCancel()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [onCancel])
  return (
    <div className="dialog-backdrop">
      <div className="dialog glass-card" role="dialog" aria-modal="true" aria-label={title} ref={ref} data-testid={testId}>
        <h2>{title}</h2>
        {children}
      </div>
    </div>
  )
}
