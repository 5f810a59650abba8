// Package logoutdelivery is the driven port through which a logout token
// reaches a relying party's back-channel logout endpoint (OpenID Connect
// Back-Channel Logout 1.0 §2.5). core/backchannel decides what is sent,
// to whom and when; the adapter only carries it.
//
// Layer: ports. Imports: standard library and core domain packages only.
package logoutdelivery
