// Package device is device binding: a key pair the Service-App created in
// the phone's secure hardware, registered with Pforte in a WebAuthn
// ceremony, with the release PIN that belongs to it. It holds the rules on
// which attestations are accepted and what a sign counter that goes
// backwards means.
//
// Layer: core domain. Imports: standard library, core/fault, core/pin.
package device
