// Package ratelimit is the one rule by which Pforte counts events against a
// limit per time window (letter requests per address, wrong activations
// per member, failed password checks per network): a sliding window.
//
// A fixed window restarts at its boundary, so up to twice the limit fits
// around one: the limit at the end of a window and again at the start of
// the next. Here the window is cut into Buckets buckets, each counted on
// its own (aligned to the Unix epoch, so that every replica computes the
// same buckets), and an event is counted against the current bucket and
// the Buckets buckets before it. That span always covers the last window
// length and at most one bucket more, so no span of one window length ever
// holds more than the limit, at the price of forgetting an event up to a
// tenth of the window later than a perfect sliding window would.
//
// Layer: core domain. Imports: standard library.
package ratelimit
