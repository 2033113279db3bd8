// Light/dark theme: the user's choice persists in localStorage; until they choose, the page
// follows the system's prefers-color-scheme (and keeps following it when it changes).

import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react'
import type { ReactNode } from 'react'

export type Theme = 'light' | 'dark'
export const THEME_KEY = 'kalashi.theme'

interface ThemeValue {
  theme: Theme
  /** True when the user picked the theme (false: following the system). */
  chosen: boolean
  setTheme: (t: Theme) => void
  toggle: () => void
}

const ThemeContext = createContext<ThemeValue | null>(null)

function systemTheme(): Theme {
  try {
    return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'
  } catch {
    return 'light'
  }
}

function storedTheme(): Theme | null {
  try {
    const t = window.localStorage.getItem(THEME_KEY)
    return t === 'light' || t === 'dark' ? t : null
  } catch {
    return null
  }
}

export function ThemeProvider({ children, root = true }: { children: ReactNode; root?: boolean }) {
  const [chosenTheme, setChosen] = useState<Theme | null>(() => storedTheme())
  const [system, setSystem] = useState<Theme>(() => systemTheme())

  useEffect(() => {
    let mql: MediaQueryList
    try {
      mql = window.matchMedia('(prefers-color-scheme: dark)')
    } catch {
      return
    }
    const onChange = (e: MediaQueryListEvent) => setSystem(e.matches ? 'dark' : 'light')
    mql.addEventListener?.('change', onChange)
    return () => mql.removeEventListener?.('change', onChange)
  }, [])

  const theme = chosenTheme ?? system

  useEffect(() => {
    if (root) document.documentElement.dataset.theme = theme
  }, [theme, root])

  const setTheme = useCallback((t: Theme) => {
    setChosen(t)
    try {
      window.localStorage.setItem(THEME_KEY, t)
    } catch {
      // Private mode without storage: the choice lasts for this page only.
    }
  }, [])

  const value = useMemo<ThemeValue>(
    () => ({ theme, chosen: chosenTheme !== null, setTheme, toggle: () => setTheme(theme === 'dark' ? 'light' : 'dark') }),
    [theme, chosenTheme, setTheme],
  )
  return <ThemeContext.Provider value={value}>{children}</ThemeContext.Provider>
}

/** The current theme and its setters. */
export function useTheme(): ThemeValue {
  const v = useContext(ThemeContext)
  if (!v) throw new Error('useTheme needs a <ThemeProvider> above it')
  return v
}
