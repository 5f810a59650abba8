// Package letterprint is the port for producing password letters: rendering a
// letter document to a print file and handing it to the print service.
//
// Layer: ports. Imports: standard library, core domain packages.
package letterprint
