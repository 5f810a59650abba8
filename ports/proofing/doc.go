// Package proofing is the port for identity proofing methods. Each method
// (the password letter, the electronic ID card) is an adapter that checks
// what a member presents and reports what was proven; core records the
// proof and never needs to know which method it was.
//
// Layer: ports. Imports: standard library, core domain packages.
package proofing
