// Package kvnr is the Krankenversichertennummer, the unchangeable part of the
// member number printed on the electronic health card.
//
// Layer: core domain. Imports: standard library, core/fault.
package kvnr
