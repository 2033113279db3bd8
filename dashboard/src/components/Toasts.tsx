import { Button } from './Button'

export interface Toast {
  id: number
  tone: 'positive' | 'negative' | 'info'
  title: string
  message: string
}

/** Command results, newest last; each can be dismissed. */
export function Toasts({ toasts, onDismiss, inline = false }: { toasts: Toast[]; onDismiss: (id: number) => void; inline?: boolean }) {
  return (
    <div className={inline ? 'toasts toasts--inline' : 'toasts'} role="status" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className={`toast toast--${t.tone}`} data-testid="toast" data-tone={t.tone}>
          <div className="toast__text">
            <strong>{t.title}</strong>
            <span>{t.message}</span>
          </div>
          <Button variant="ghost" aria-label={`Dismiss: ${t.title}`} onClick={() => onDismiss(t.id)}>
            ×
          </Button>
        </div>
      ))}
    </div>
  )
}
