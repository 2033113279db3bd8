// Types for mock-bridge.mjs, so the TypeScript tests can start it.

export declare const DEFAULT_FIXTURES: string

export interface MockBridgeOptions {
  host?: string
  port?: number
  token?: string | null
  readOnly?: boolean
  fixturesDir?: string
  intervalMs?: number
  httpPort?: number | null
  staticDir?: string | null
  server?: string
}

export interface MockLoopState {
  loop: { status: string; iteration: number; profile: string }
  trading_state: string
  [field: string]: unknown
}

export interface MockBridge {
  url: string
  port: number
  httpUrl: string | null
  loop: { state: MockLoopState }
  step(): number
  clientCount(): number
  dropClients(): void
  close(): Promise<void>
}

export declare function startMockBridge(options?: MockBridgeOptions): Promise<MockBridge>
export declare function loadFixtures(dir?: string): { state: unknown; iterations: unknown[][] }
