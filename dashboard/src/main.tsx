import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App'
import { adoptTokenFromUrl } from './lib/token'
import { ThemeProvider } from './theme/ThemeContext'
import './styles/app.css'

adoptTokenFromUrl()

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ThemeProvider>
      <App />
    </ThemeProvider>
  </StrictMode>,
)
