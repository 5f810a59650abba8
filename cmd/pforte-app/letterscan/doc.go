// Package letterscan reads a password letter as the Service-App does when
// the member scans it: the activation URL from the QR code, the initial
// password and the activation code from the printed text.
//
// Layer: cmd (the reference client); tests and the load tool use it too,
// to prove that what is printed is what the member needs. The server never
// reads letters, so it does not link the PDF reader and QR decoder this
// package needs (test/arch checks it).
package letterscan
