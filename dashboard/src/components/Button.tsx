import type { ButtonHTMLAttributes } from 'react'

export type ButtonVariant = 'primary' | 'secondary' | 'danger' | 'ghost'

export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: ButtonVariant
  testId?: string
  /** Shown as a tooltip and read by screen readers when the button is disabled. */
  disabledReason?: string | null
}

/** A button; when disabled with a reason, the reason is its tooltip and description. */
export function Button({ variant = 'secondary', testId, disabledReason, disabled, className, title, ...rest }: ButtonProps) {
  const why = disabled && disabledReason ? disabledReason : undefined
  return (
    <button
      type="button"
      className={`btn btn--${variant}${className ? ` ${className}` : ''}`}
      data-testid={testId}
      disabled={disabled}
      title={why ?? title}
      aria-description={why}
      {...rest}
    />
  )
}
