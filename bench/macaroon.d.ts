// The parts of macaroon@3.0.4 the bench uses (the package ships no types).
declare module 'macaroon' {
  interface Macaroon {
    readonly identifier: Uint8Array
    readonly caveats: { readonly identifier: Uint8Array }[]
    readonly signature: Uint8Array
    addFirstPartyCaveat(condition: string): void
    verify(rootKey: Uint8Array, check: (condition: string) => string | null, discharges: Macaroon[]): void
  }
  const macaroon: {
    newMacaroon(options: { rootKey: Uint8Array; identifier: string; version: number; location?: string }): Macaroon
    importMacaroon(bytes: Uint8Array): Macaroon
  }
  export default macaroon
}
