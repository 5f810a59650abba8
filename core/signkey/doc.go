// Package signkey holds the lifecycle of token signing keys and the rotation
// rule: a next key is published before it signs, and a retired key stays
// published until every token it signed has expired.
//
// Layer: core domain. Imports: standard library.
package signkey
