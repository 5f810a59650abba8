// Package ports is the layer of interfaces between Pforte's core and its
// adapters. Each subpackage is one port with its conformance suite.
//
// Layer: ports. Imports: standard library and core domain packages only;
// never net/http, database/sql or protocol libraries.
package ports
